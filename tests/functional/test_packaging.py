"""The wheel: every package file in it, and a working `pgwarden` installed from it alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

from pgwarden import __version__
from pgwarden.cluster import Cluster
from tests.helpers import Agent, start_agent

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "pgwarden"


def pip(*args: str) -> None:
    """Run this environment's pip offline; fail the test with its output."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel .`, offline: the build backend comes from the dev dependencies."""
    out = tmp_path_factory.mktemp("wheel")
    pip(
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--wheel-dir",
        str(out),
        str(ROOT),
    )
    (built,) = out.glob("pgwarden-*.whl")
    return built


def package_files() -> list[str]:
    """Every file of the package on disk, as the wheel names it; caches aside."""
    return sorted(
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def test_the_wheel_holds_every_package_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [name for name in package_files() if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    sql = [name for name in names if name.startswith("pgwarden/db/sql/")]
    assert sql and all(name.endswith(".sql") for name in sql)
    assert "pgwarden/py.typed" in names
    web = PACKAGE / "web"
    if web.is_dir():  # the web page's files, whatever they are
        assert any(name.startswith("pgwarden/web/") for name in names)


UPLOT = ("uPlot.esm.js", "uPlot.min.css", "LICENSE")


def test_the_wheel_ships_the_chart_library_with_its_licence(wheel: Path) -> None:
    """The History tab's chart comes from the package itself, never from a CDN."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        licence = archive.read("pgwarden/web/vendor/uplot/LICENSE").decode()
        readme = archive.read("pgwarden/web/vendor/README.md").decode()
    for name in UPLOT:
        assert f"pgwarden/web/vendor/uplot/{name}" in names, name
    assert "MIT License" in licence
    assert "uPlot 1.6.32" in readme


def test_the_wheel_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        (entry_points_name,) = [
            n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")
        ]
        entry_points = archive.read(entry_points_name).decode()
    assert metadata["Name"] == "pgwarden"
    assert metadata["Version"] == __version__
    requires = metadata.get_all("Requires-Dist") or []
    for needed in ("fastapi", "prometheus-client", "fastapi-offline", "psycopg"):
        assert any(r.startswith(needed) for r in requires), needed
    assert "pgwarden = pgwarden.cli:main" in entry_points


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed on its own (its dependencies are this environment's)."""
    target = tmp_path_factory.mktemp("installed")
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    return target


def from_wheel(installed: Path) -> dict[str, str]:
    """An environment where `import pgwarden` finds the installed copy, not the source tree."""
    path = f"{installed / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return {"PYTHONPATH": str(installed), "PATH": path}


def test_the_installed_command_reports_the_version(installed: Path) -> None:
    env = {**os.environ, **from_wheel(installed)}
    where = subprocess.run(
        [sys.executable, "-c", "import pgwarden; print(pgwarden.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,  # where the agents of these tests start
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where.stdout + where.stderr
    version = subprocess.run(
        [str(installed / "bin" / "pgwarden"), "--version"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"pgwarden {__version__}"


@pytest.fixture
def agent_from_wheel(cluster: Cluster, installed: Path, tmp_path: Path) -> Iterator[Agent]:
    agent = start_agent(
        cluster,
        tmp_path,
        "[metrics]\nenabled = true\n",
        env=from_wheel(installed),
    )
    yield agent
    agent.stop()


def test_the_installed_agent_serves_everything(agent_from_wheel: Agent, installed: Path) -> None:
    """SQL files, docs page files and version come from the installed copy."""
    agent = agent_from_wheel
    with agent.session_client() as client:
        activity = client.get("/activity")  # needs the SQL files
        assert activity.status_code == 200, activity.text
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        chart = client.get("/web/vendor/uplot/uPlot.esm.js")
        assert chart.status_code == 200
        assert "javascript" in chart.headers["content-type"]
        assert chart.content == (installed / "pgwarden/web/vendor/uplot/uPlot.esm.js").read_bytes()
        assert client.get("/metrics").status_code == 200
        server = client.get("/status").headers["server"]
    assert server.split()[0] == f"pgwarden/{__version__}"
    version = subprocess.run(
        [str(installed / "bin" / "pgwarden"), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, **from_wheel(installed)},
    )
    assert version.stdout.split() == server.split()[0].split("/")
    with httpx.Client(base_url=agent.url) as client:
        assert client.get("/openapi.json").json()["info"]["version"] == __version__
