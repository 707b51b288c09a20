"""`make test` from a clone in a private folder, as root: the servers run as the postgres OS
user, who cannot enter root's 0700 home; the builds and clusters must be where it can."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pgwarden.cluster import SERVER_OS_USER

REPO = Path(__file__).resolve().parents[2]
MAJOR = "12"  # the oldest supported, as `make test` runs it


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the servers to another OS user")
def test_a_clone_in_a_private_folder_runs_the_lock_tests(tmp_path: Path) -> None:
    home = tmp_path / "home"  # like /root: mode 0700
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    clone = home / "pgwarden"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGWARDEN_", "PG"))}
    env["npm_config_offline"] = "true"  # the tests stay off the network: npm's cache only

    fetched = subprocess.run(
        [sys.executable, str(clone / "scripts" / "pg-versions"), "--bindir", MAJOR],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if "ENOTCACHED" in fetched.stderr:
        pytest.skip(f"PostgreSQL {MAJOR} is not in npm's cache yet (make test fetches it first)")
    assert fetched.returncode == 0, fetched.stderr
    bindir = Path(fetched.stdout.strip())
    ran = subprocess.run(
        ["runuser", "-u", SERVER_OS_USER, "--", str(bindir / "initdb"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"initdb (PostgreSQL) {MAJOR}.")

    # The clone's own lock tests on that build, with a private TMPDIR too.
    private_tmp = home / "tmp"
    private_tmp.mkdir(mode=0o700)
    env |= {"PGWARDEN_PGBIN": str(bindir), "TMPDIR": str(private_tmp)}
    env["PYTHONPATH"] = os.pathsep.join([str(clone / "src"), str(clone)])
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-p",
            "no:cacheprovider",
            "tests/functional/test_locks_seed.py",
        ],
        cwd=clone,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert tests.returncode == 0, (tests.stdout + tests.stderr)[-3000:]
    assert f"PostgreSQL {MAJOR}0" in tests.stdout  # the header: "PostgreSQL 120022 from ..."
    assert f"from {bindir}" in tests.stdout
    assert " passed" in tests.stdout
