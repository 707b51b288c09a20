"""One definition per answer: the rows built match their declared shape, strictly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from pgwarden.activity import RowQuery, View, render
from pgwarden.config import Config
from pgwarden.http import schemas
from pgwarden.http.app import create_app
from pgwarden.models import Snapshot
from pgwarden.proc import ProcFigures
from tests.unit.factories import backend, lock

T = "relation,5,16384"
BODIES: dict[View, type[schemas.Answer]] = {
    View.ACTIVITY: schemas.ActivityBody,
    View.WAITING: schemas.WaitingBody,
    View.BLOCKING: schemas.BlockingBody,
}


def staged() -> Snapshot:
    """A holder, its waiter (both with figures), and a backend with unreadable figures."""
    holder = backend(1, locks=(lock(T, "AccessExclusiveLock", True),))
    waiter = backend(2, blocked_by=(1,), locks=(lock(T, "AccessShareLock", False, wait=2.0),))
    figures = {1: ProcFigures(1.5, 0.2, 0.0, 10.0, False), 2: ProcFigures(0.0, 0.1, 0.0, 0.0, True)}
    return Snapshot(datetime.now(UTC), (holder, waiter, backend(3)), figures)


@pytest.mark.parametrize("view", list(View))
def test_every_row_built_validates_strictly_against_its_shape(view: View) -> None:
    body = render(staged(), view, RowQuery())
    parsed = BODIES[view].model_validate_json(body, strict=True).model_dump()
    assert parsed["total"] == len(orjson.loads(body)["rows"]) > 0


@pytest.mark.parametrize("view", list(View))
def test_a_key_the_shape_does_not_declare_fails(view: View) -> None:
    decoded = orjson.loads(render(staged(), view, RowQuery()))
    decoded["rows"][0]["undeclared"] = 1
    with pytest.raises(ValidationError, match="undeclared"):
        BODIES[view].model_validate_json(orjson.dumps(decoded), strict=True)


@pytest.mark.parametrize("view", list(View))
def test_a_key_the_shape_declares_cannot_go_missing(view: View) -> None:
    decoded = orjson.loads(render(staged(), view, RowQuery()))
    del decoded["rows"][0]["query"]
    with pytest.raises(ValidationError, match="query"):
        BODIES[view].model_validate_json(orjson.dumps(decoded), strict=True)


def _objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema with declared properties inside `schema`."""
    found = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append(schema)
        for value in schema.values():
            found += _objects(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _objects(value)
    return found


def test_the_document_forbids_undeclared_keys_in_every_answer() -> None:
    """Request bodies are written inline; every component is an answer's shape."""
    components = create_app(Config()).openapi()["components"]["schemas"]
    assert {"ActivityRow", "LockRow", "BlockingRow", "ActivityBody", "SnapshotBody"} <= set(
        components
    )
    for name, schema in components.items():
        for found in _objects(schema):
            assert found.get("additionalProperties") is False, name
