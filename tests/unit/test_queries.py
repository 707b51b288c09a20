from __future__ import annotations

import inspect
import re
from typing import Any

import pglast
import pytest
from pglast import ast, enums

from pgwarden.db import queries
from pgwarden.rows import backend_from_columns


def test_the_newest_variant_not_above_the_server_wins() -> None:
    assert "waitstart" in queries.load("activity", 150004)
    assert "pg_terminate_backend" in queries.load("signal", 120000)


def test_every_query_opens_with_its_purpose() -> None:
    for name, text in queries.sources().items():
        assert text.startswith("-- purpose: "), name


def test_unknown_query_or_too_old_server() -> None:
    with pytest.raises(LookupError):
        queries.load("nonexistent", 150000)
    with pytest.raises(LookupError):
        queries.load("activity", 90600)


def test_the_activity_query_has_a_variant_for_each_supported_version() -> None:
    # leader_pid came with 13, pg_locks.waitstart with 14; query_id was never used.
    for major in range(12, 19):
        text = queries.load("activity", major * 10000)
        assert ("a.leader_pid" in text) == (major >= 13), major
        assert "query_id" not in text, major
        assert ("l.waitstart" in text) == (major >= 14), major


def test_markers_keep_a_line_only_on_the_majors_they_name() -> None:
    source = "SELECT a,\n       b,  -- if pg >= 13\n       NULL AS b  -- if pg < 13\nFROM t\n"
    assert queries.render(source, 12) == "SELECT a,\n       NULL AS b\nFROM t\n"
    assert queries.render(source, 13) == "SELECT a,\n       b,\nFROM t\n"
    assert queries.render(source, 18) == queries.render(source, 13)


def _parse(text: str) -> ast.RawStmt:
    """The one statement of `text`, psycopg's %(name)s placeholders read as $1."""
    statements = pglast.parse_sql(re.sub(r"%\(\w+\)s|%s", "$1", text))
    assert len(statements) == 1
    return statements[0]


def _column_names(targets: tuple[Any, ...] | None) -> list[str]:
    names = []
    for target in targets or ():
        if target.name:
            names.append(target.name)
        elif isinstance(target.val, ast.ColumnRef) and target.val.fields:
            names.append(target.val.fields[-1].sval)
        else:
            names.append("?column?")  # what PostgreSQL calls an unnamed expression
    return names


@pytest.mark.parametrize("major", range(12, 19))
def test_every_query_parses_on_every_major_without_markers(major: int) -> None:
    for name in queries.sources():
        text = queries.load(name, major * 10000)
        assert not re.search(r"-- if pg\b.*\d+$", text, re.MULTILINE), name
        assert isinstance(_parse(text).stmt, ast.SelectStmt), name


@pytest.mark.parametrize("major", range(12, 19))
def test_the_activity_columns_are_the_fields_of_a_backend_row(major: int) -> None:
    select = _parse(queries.load("activity", major * 10000)).stmt
    assert isinstance(select, ast.SelectStmt)
    assert isinstance(select.larg, ast.SelectStmt)
    assert isinstance(select.rarg, ast.SelectStmt)
    assert select.op == enums.SetOperation.SETOP_UNION  # backends, then prepared transactions
    columns = _column_names(select.larg.targetList)
    assert len(select.rarg.targetList or ()) == len(columns)
    parameters = list(inspect.signature(backend_from_columns).parameters)
    assert sorted(columns) == sorted(parameters)
    assert len(set(columns)) == len(columns)
