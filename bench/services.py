"""Private services for bench/faults.py, each on a free loopback port in the run's folder, so the shared ones are
never touched: a Redis, a PostgreSQL cluster (as root, owned by and run as the `postgres` user), and gunicorn
masters on sockets bound before they start. Plus the small /proc readings a fault needs (a master's workers).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent


class Failure(RuntimeError):
    """The harness could not do its part (a service did not start): not a finding about Direto."""


# ---- finding the tools ------------------------------------------------------------------------------------------


def _version_key(path: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in re.split(r"[./]", path))


def postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        real = Path(found).resolve().parent
        return real if (real / "pg_ctl").exists() else Path(found).parent
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if os.access(Path(bindir) / "initdb", os.X_OK) and os.access(Path(bindir) / "pg_ctl", os.X_OK):
            return Path(bindir)
    return None


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (path for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if os.access(path, os.X_OK)), None)


# ---- processes ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_socket() -> socket.socket:
    """Bound and listening before gunicorn starts (as the test suite's live server): requests wait, never race."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    return sock


def children(pid: int) -> set[int]:
    """Live child processes of `pid` (zombies excluded), read from /proc."""
    found = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            data = Path(stat).read_text()
        except OSError:
            continue
        state, ppid = data[data.rindex(")") + 2:].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(stat.split("/")[2]))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def wait_for(condition, timeout: float, interval: float = 0.1):
    """Poll `condition()` until it returns something true (returned) or `timeout` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def stop_process(process: subprocess.Popen | None, timeout: float = 20) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Redis:
    """A private redis-server: no persistence, loopback only."""

    def __init__(self, binary: str, workdir: Path):
        self.binary, self.port = binary, free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.log = (workdir / "redis.log").open("ab")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for(self.ping, 15):
            raise Failure(f"redis-server did not answer on port {self.port} (see redis.log)")

    def ping(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def run_id(self) -> str:
        return redis.Redis.from_url(self.url, socket_timeout=2).info("server")["run_id"]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        stop_process(self.process, 5)


class Postgres:
    """A private PostgreSQL cluster (trust auth, loopback, its socket in its own folder). PostgreSQL refuses to run
    as root: then the cluster belongs to the `postgres` user and every command runs as that user (runuser)."""

    def __init__(self, bindir: Path, workdir: Path):
        self.bindir, self.port = bindir, free_port()
        self.home = workdir / "pg"
        self.data = self.home / "data"
        self.home.mkdir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Failure("running as root, and there is no `postgres` user to own the cluster") from None
            os.chmod(workdir, 0o711)  # the postgres user must reach its folder inside
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        self.commands_log = workdir / "pg_ctl.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/direto"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        with self.commands_log.open("a") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            result = subprocess.run(command, cwd=self.home, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                    start_new_session=True)
        if result.returncode:
            raise Failure(f"{argv[0]} {argv[-1]} failed (exit {result.returncode}):\n{self.commands_log.read_text()[-3000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "postgres.log"), "-o", options, "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self) -> None:
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE direto")

    def started_at(self):
        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]


class Gunicorn:
    """A gunicorn master in its own session, on a socket bound before it starts."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.sock = listening_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, app: str, workers: int, options: list[str], env: dict) -> None:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *options, "--workers", str(workers),
                 "--bind", f"fd://{self.sock.fileno()}", app],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(self.sock.fileno(),),
                start_new_session=True)
        self.sock.close()  # gunicorn holds its own copy

    def wait_until_answering(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + path, timeout=timeout).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise Failure(f"{self.name} did not start; the end of its log:\n{self.log_tail()}")

    def workers(self) -> set[int]:
        return children(self.process.pid)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        kept = [line for line in self.log_text().splitlines() if not re.search(r'"(GET|POST|PATCH) ', line)]
        return "\n".join(kept[-lines:])

    def boots(self) -> int:
        return self.log_text().count("Booting worker with pid")

    def stop(self) -> None:
        stop_process(self.process)
