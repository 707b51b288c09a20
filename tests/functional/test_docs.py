"""Docs that cannot drift: checked against the code, and their examples run for real."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pgwarden.cluster import Cluster
from pgwarden.config import documented_keys, load_config
from pgwarden.config_reference import rewrite
from pgwarden.metrics import exposition
from pgwarden.models import SamplerStats, Snapshot
from tests.functional.test_openapi import documented_operations, full_app
from tests.helpers import ADMIN_PASSWORD, Sessions, poll_row, running_agent, wait_until
from tests.unit.factories import backend

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PACKAGING = ROOT / "packaging"
PAGES = ["/docs", "/openapi.json"]  # served, but not operations of the API document
TOKEN = "docs-metrics-token"


def sections(markdown: str) -> dict[str, str]:
    """Level-3 sections by heading text (the first of equal headings wins)."""
    found: dict[str, str] = {}
    for part in re.split(r"^### ", markdown, flags=re.MULTILINE)[1:]:
        heading, _, body = part.partition("\n")
        found.setdefault(heading.strip(), body.split("\n## ")[0])
    return found


def code_blocks(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


def curl_operations(script: str) -> set[tuple[str, str]]:
    """(method, path) of every curl command in a shell script."""
    found = set()
    for command in re.findall(r"curl\b(?:[^\n]*\\\n)*[^\n]*", script):
        method = "POST" if re.search(r"-X POST\b", command) else "GET"
        path = re.search(r'"\$URL(/[^"?]*)', command)
        assert path, command
        found.add((method, path.group(1)))
    return found


# ---------------------------------------------------------------- configuration


def test_configuration_reference_is_generated_from_config_py() -> None:
    committed = (DOCS / "configuration.md").read_text()
    assert rewrite(committed) == committed, (
        "docs/configuration.md is stale: python -m pgwarden.config_reference docs/configuration.md"
    )


def test_every_key_is_documented_and_in_the_example_file() -> None:
    reference = sections((DOCS / "configuration.md").read_text())
    example = (PACKAGING / "pgwarden.toml").read_text()
    for section, key, _default, doc in documented_keys():
        table = reference[f"`[{section}]`"]
        assert f"| `{key}` |" in table, f"[{section}] {key} is not in docs/configuration.md"
        assert doc.replace("|", "\\|") in table
        assert f"[{section}]" in example
        assert re.search(rf"^{key} = ", example, flags=re.MULTILINE), f"{key} not in example"


def test_the_example_file_loads_with_the_defaults_but_its_paths(tmp_path: Path) -> None:
    config = load_config(PACKAGING / "pgwarden.toml", environ={})
    assert config.auth.users_file == Path("/var/lib/pgwarden/users")
    assert config.audit.file == Path("/var/log/pgwarden/audit.jsonl")
    defaults = load_config(None, environ={})
    for section in ("server", "postgresql", "guards", "metrics"):
        assert getattr(config, section) == getattr(defaults, section), section


# ---------------------------------------------------------------- API reference


def test_api_reference_shows_every_route_with_its_statuses() -> None:
    text = (DOCS / "api.md").read_text()
    by_heading = sections(text)
    examples = curl_operations("\n".join(code_blocks(text, "sh")))
    operations = documented_operations(full_app().openapi())
    for (method, path), operation in operations.items():
        assert (method, path) in examples, f"no curl example for {method} {path}"
        section = by_heading.get(f"`{method} {path}`")
        assert section is not None, f"no section for {method} {path}"
        listed = re.search(r"^Statuses: ([\d, ]+)\.$", section, flags=re.MULTILINE)
        assert listed, f"no Statuses line for {method} {path}"
        documented = sorted(int(status) for status in operation["responses"])
        assert [int(s) for s in listed.group(1).split(", ")] == documented, (method, path)
    served = set(operations) | {("GET", page) for page in PAGES}
    assert examples <= served, examples - served


def test_api_examples_run_against_a_real_agent(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    """The page's shell blocks, in order, as one script: every curl must get a 2xx."""
    text = (DOCS / "api.md").read_text()
    to_cancel = sessions.open("docs-cancel")
    cancelled = to_cancel.submit("SELECT pg_sleep(60)")
    to_kill = sessions.open("docs-kill")
    metrics_on = f'[metrics]\nenabled = true\ntoken = "{TOKEN}"\n'
    with running_agent(cluster, tmp_path, metrics_on) as agent:
        with agent.session_client() as client:
            poll_row(client, to_cancel.pid, until=lambda row: row["state"] == "active")
        script = "\n".join(code_blocks(text, "sh"))
        for placeholder, real in (
            ("http://127.0.0.1:2345", agent.url),
            (
                '"username": "alice", "password": "s3cret"',
                f'"username": "admin", "password": "{ADMIN_PASSWORD}"',
            ),
            ("13309", str(to_cancel.pid)),
            ("13310", str(to_kill.pid)),
            ("the [metrics] token", TOKEN),
        ):
            assert placeholder in script, placeholder
            script = script.replace(placeholder, real)
        strict = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
        result = subprocess.run(
            ["bash", "-c", strict + script], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with pytest.raises(psycopg.errors.QueryCanceled):
            cancelled.result(timeout=30)
        wait_until(lambda: to_kill.conn.closed or _dead(to_kill.conn), what="the killed backend")
        audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    results = {(e["action"], e.get("pid"), e.get("result")) for e in audit}
    assert {("cancel", to_cancel.pid, True), ("terminate", to_kill.pid, True)} <= results
    assert "pgwarden_backends{" in result.stdout  # the metrics example printed them


def _dead(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


# ---------------------------------------------------------------- README and links


def test_readme_links_to_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in (
        "docs/api.md",
        "docs/configuration.md",
        "docs/deployment.md",
        "packaging/pgwarden.service",
        "packaging/grafana-dashboard.json",
    ):
        assert f"]({target})" in readme, target


@pytest.mark.parametrize(
    "page", ["README.md", "docs/api.md", "docs/configuration.md", "docs/deployment.md"]
)
def test_relative_links_resolve(page: str) -> None:
    path = ROOT / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        assert (path.parent / target).resolve().exists(), f"{page}: broken link {target}"
        assert (path.parent / target).resolve().is_relative_to(ROOT), f"{page}: {target}"


# ---------------------------------------------------------------- deployment


def test_the_systemd_unit_runs_as_postgres_hardened() -> None:
    unit = (PACKAGING / "pgwarden.service").read_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["User"] == "postgres"
    assert settings["ExecStart"] == (
        "/opt/pgwarden/bin/pgwarden serve -c /etc/pgwarden/pgwarden.toml"
    )
    for hardening, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RemoveIPC": "no",  # yes would remove PostgreSQL's own shared memory
    }.items():
        assert settings[hardening] == value, hardening
    # The files the agent writes are inside the only directories it may write.
    config = load_config(PACKAGING / "pgwarden.toml", environ={})
    assert config.auth.users_file.parent == Path("/var/lib") / settings["StateDirectory"]
    assert config.audit.file.parent == Path("/var/log") / settings["LogsDirectory"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_finds_nothing_wrong_with_the_unit(tmp_path: Path) -> None:
    pgwarden = shutil.which("pgwarden") or str(Path(__file__).parents[2] / ".venv/bin/pgwarden")
    unit = (PACKAGING / "pgwarden.service").read_text()
    # The one difference: the executable is where this test's pgwarden is.
    copy = tmp_path / "pgwarden.service"
    copy.write_text(unit.replace("/opt/pgwarden/bin/pgwarden", pgwarden))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "pgwarden.service" not in result.stderr, result.stderr


def test_the_documented_role_is_enough(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    """deployment.md's SQL, run as written; then the agent connects as that role."""
    (sql,) = code_blocks((DOCS / "deployment.md").read_text(), "sql")
    with cluster.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS pgwarden")
        conn.execute("DROP ROLE IF EXISTS docs_app")
        conn.execute("CREATE ROLE docs_app LOGIN")
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(statement)
    app = sessions.open("docs-app", user="docs_app")
    app.submit("SELECT pg_sleep(60) /* another role's query */")
    superuser = sessions.open("docs-superuser")
    as_role = {"PGWARDEN_POSTGRESQL_USER": "pgwarden", "PGWARDEN_METRICS_ENABLED": "true"}
    with running_agent(cluster, tmp_path, env=as_role) as agent, agent.session_client() as client:
        row = poll_row(client, app.pid, until=lambda r: r["state"] == "active")
        assert row["query"] == "SELECT pg_sleep(60) /* another role's query */"
        assert row["user"] == "docs_app"
        refused = client.post("/activity/kill", json={"pids": [superuser.pid]}).json()
        assert refused["backends"][0]["killed"] is False
        assert refused["backends"][0]["reason"].startswith("permission denied")
        killed = client.post("/activity/kill", json={"pids": [app.pid]}).json()
        assert killed["backends"][0] == {"pid": app.pid, "killed": True, "reason": None}
        scraped = client.get("/metrics")
        assert scraped.status_code == 200
        assert "pgwarden_postgresql_up 1.0" in scraped.text
        with cluster.connect() as conn:
            (connected,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pgwarden'"
            ).fetchone() or (0,)
        assert connected >= 1  # the agent really connects as the role


# ---------------------------------------------------------------- Grafana


def metric_names() -> set[str]:
    """Every sample name the agent can expose, from a snapshot where each has samples."""
    now = datetime.now(UTC)
    text = exposition(Snapshot(now, (backend(1),), {}), SamplerStats()).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_the_grafana_dashboard_queries_only_real_metrics_and_shows_them_all() -> None:
    dashboard = json.loads((PACKAGING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    queried = {name for expr in exprs for name in re.findall(r"\bpgwarden_\w+", expr)}
    exposed = metric_names()
    assert queried <= exposed, queried - exposed
    assert exposed <= queried, f"not on the dashboard: {exposed - queried}"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert re.findall(r"\bpgwarden_\w+", variables["instance"]["definition"])[0] in exposed
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
