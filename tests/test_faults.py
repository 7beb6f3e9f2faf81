"""No DM is lost or duplicated when a worker is killed, Redis restarts or PostgreSQL restarts (issue 7).

Runs `bench/faults.py --quick`, which brings its own PostgreSQL cluster, Redis, Meta sandbox and Direto (two gunicorn
workers) on private ports: it needs `initdb`, `pg_ctl` and `redis-server`, and nothing from TEST_DATABASE_URL. It is
slow (a claim left by the killed worker is retaken after the processor's STALE_CLAIM, a minute), so CI runs it once,
in the PostgreSQL + Redis pass of .ci/run; a developer's `make test` runs it whenever the tools are there.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "faults.py"
TIMEOUT = 6 * 60  # the script gives up on its own before this (STALE_CLAIM + 90 s of waiting at most)
FAULTS = ("kill -9 worker", "Redis restart", "PostgreSQL restart")


def _missing_tools() -> list[str]:
    """What bench/faults.py needs and this machine lacks (it looks on PATH, then in /usr/lib/postgresql/*/bin)."""
    missing = []
    for tool in ("initdb", "pg_ctl"):
        if not shutil.which(tool) and not glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"):
            missing.append(tool)
    if not shutil.which("redis-server") and not os.path.exists("/usr/bin/redis-server"):
        missing.append("redis-server")
    return missing


def _runs_here():
    if os.environ.get("CI") and not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("runs in the PostgreSQL + Redis pass")  # once per CI run: it takes minutes
    missing = _missing_tools()
    if missing:
        message = (f"{', '.join(missing)} not found: install PostgreSQL's server binaries (initdb, pg_ctl) and "
                   "redis-server to run the fault test")
        if os.environ.get("CI"):
            pytest.fail(message)  # CI has them: a missing tool there is a broken pipeline, not a skip
        pytest.skip(message)


def test_no_dm_lost_or_duplicated_under_faults():
    _runs_here()
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the script then stops the PostgreSQL, Redis and gunicorns it started.
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        pytest.fail(f"bench/faults.py --quick did not finish in {TIMEOUT} s:\n{output}")
    assert process.returncode == 0, output
    for fault in FAULTS:
        line = re.search(rf"^\s*{re.escape(fault)}\s+sent\s+(\d+)\s.*$", output, re.MULTILINE)
        assert line, f"no line for {fault!r}:\n{output}"
        assert int(line.group(1)) > 0, line.group(0)
        assert " lost 0 " in line.group(0) and " duplicated 0 " in line.group(0), line.group(0)
