"""Idle live streams: how many open pages one worker holds, in how much memory, and how fast a broadcast reaches them.

    .venv/bin/python bench/sse_idle.py [--connections 10000]

Serves Direto as in production (gunicorn, one gevent worker, SQLite in a temporary folder, worker_connections
raised through WORKER_CONNECTIONS), signs in once as an admin and opens that many streams on GET /events with the
same session cookie, from one asyncio client. Once all are open and idle it reads the worker's resident memory
(VmRSS), then one customer DM (a signed webhook) makes one event every stream may hear, and it times how long
until every stream has received its "dm" frame. Targets: 10,000 streams, RSS <= 1 GiB, all reached within 2 s.

Both processes need a file descriptor per connection: the soft RLIMIT_NOFILE is raised as far as the hard limit
allows (the server inherits it); with fewer, the run says how many it could open.
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

from sse_latency import (Frames, dechunk, dm_body, quantile, session_cookie, start_server, stream_request)
from http_load import entry_point, in_workdir
from webhook_ingest import APP_SECRET

from webapp.meta.signatures import sign

TARGET_CONNECTIONS = 10_000
TARGET_RSS = 1024 ** 3
TARGET_REACH_S = 2.0
SPARE_FDS = 200  # for the database, the log, the listening socket


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    return limit


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Stream:
    """One open page: its connection, and when the broadcast's frame reached it."""

    def __init__(self):
        self.writer: asyncio.StreamWriter | None = None
        self.reached: float | None = None
        self.open = asyncio.Event()
        self.failed: str | None = None

    async def run(self, address: tuple[str, int], request: bytes, gate: asyncio.Semaphore) -> None:
        try:
            async with gate:  # a few hundred connecting at a time: the listen backlog is finite
                reader, self.writer = await asyncio.open_connection(*address, limit=1 << 16)
                self.writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:40].decode(errors="replace"))
                buffer, frames = bytearray(), Frames()
                while b"\n\n" not in buffer:  # the opening frame: the stream is registered and live
                    buffer += await reader.read(4096)
                self.open.set()
            while self.reached is None:
                data = await reader.read(65536)
                if not data:
                    raise RuntimeError("the stream ended")
                buffer += data
                if any(name == "dm" for name, _ in frames.feed(dechunk(buffer))):
                    self.reached = time.perf_counter()
        except Exception as error:  # noqa: BLE001  (counted and reported)
            self.failed = f"{type(error).__name__}: {error}"
            self.open.set()


async def post_dm(address: tuple[str, int]) -> float:
    body = dm_body(1, "1000000000000001")
    reader, writer = await asyncio.open_connection(*address)
    head = (f"POST /webhooks/instagram HTTP/1.1\r\nHost: {address[0]}\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {sign(body, APP_SECRET)}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    sent = time.perf_counter()
    writer.write(head.encode() + body)
    answer = await reader.read()
    writer.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the webhook answered {answer[:60]!r}")
    return sent


async def measure(args, address: tuple[str, int], cookie: str, pid: int) -> dict:
    request = stream_request(address, cookie)
    gate = asyncio.Semaphore(args.connecting)
    streams = [Stream() for _ in range(args.connections)]
    rss_before = rss_bytes(pid)
    started = time.perf_counter()
    tasks = [asyncio.create_task(s.run(address, request, gate)) for s in streams]
    await asyncio.gather(*(s.open.wait() for s in streams))
    opened = [s for s in streams if s.failed is None]
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(args.settle)  # idle: what an open page costs when nothing happens
    rss = rss_bytes(pid)
    sent = await post_dm(address)
    deadline = time.perf_counter() + args.timeout
    while time.perf_counter() < deadline and any(s.reached is None and s.failed is None for s in opened):
        await asyncio.sleep(0.01)
    reached = [s.reached - sent for s in opened if s.reached is not None]
    for s in streams:
        if s.writer is not None:
            s.writer.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failures = [s.failed for s in streams if s.failed]
    return {"opened": len(opened), "connect_seconds": connect_seconds, "rss_before": rss_before, "rss": rss,
            "reached": reached, "failures": failures}


def run(args, workdir: Path) -> int:
    server = start_server(workdir, {"WORKER_CONNECTIONS": str(args.connections + 100)})
    with server:
        pid = worker_pid(server.process.pid)
        print(f"server: gunicorn, 1 gevent worker (pid {pid}), worker_connections {args.connections + 100}, "
              f"http://{server.address[0]}:{server.address[1]}")
        cookie = session_cookie(server.address)
        figures = asyncio.run(measure(args, server.address, cookie, pid))
        opened, reached = figures["opened"], figures["reached"]
        print(f"  streams open: {opened:,} of {args.connections:,} in {figures['connect_seconds']:.1f} s")
        if figures["failures"]:
            print(f"  {len(figures['failures'])} failed to open or ended; the first: {figures['failures'][0]}")
        grown = figures["rss"] - figures["rss_before"]
        print(f"  worker RSS: {figures['rss'] / 2**20:,.0f} MiB with them open "
              f"({figures['rss_before'] / 2**20:,.0f} MiB before: {grown / max(opened, 1) / 1024:.1f} KiB per stream)")
        if reached:
            print(f"  one DM -> its dm frame at every stream: {len(reached):,} of {opened:,} reached; "
                  f"p50 {statistics.median(reached) * 1000:.0f} ms, p99 {quantile(reached, 0.99) * 1000:.0f} ms, "
                  f"last {max(reached) * 1000:.0f} ms")
        every = opened >= TARGET_CONNECTIONS and len(reached) == opened
        print(f"  streams held: {opened:,}   target {TARGET_CONNECTIONS:,}   "
              f"{'PASS' if opened >= TARGET_CONNECTIONS else 'FAIL'}")
        print(f"  RSS: {figures['rss'] / 2**20:,.0f} MiB   target <= {TARGET_RSS / 2**20:,.0f} MiB   "
              f"{'PASS' if figures['rss'] <= TARGET_RSS else 'FAIL'}")
        last = max(reached) if reached else float("inf")
        print(f"  broadcast reached all in {last:.2f} s   target <= {TARGET_REACH_S:g} s   "
              f"{'PASS' if every and last <= TARGET_REACH_S else 'FAIL'}")
        restarts = server.worker_boots() - 1
        if restarts:
            print(f"\nFAILED: the worker restarted {restarts} times", file=sys.stderr)
            return 1
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=TARGET_CONNECTIONS, help="streams to open (10,000)")
    parser.add_argument("--connecting", type=int, default=200, help="connections being opened at once (200)")
    parser.add_argument("--settle", type=float, default=3.0, help="idle seconds before reading RSS (3)")
    parser.add_argument("--timeout", type=float, default=30.0, help="longest wait for the broadcast (30 s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log)")
    args = parser.parse_args(argv)
    limit = raise_fd_limit(args.connections + SPARE_FDS)
    if limit < args.connections + SPARE_FDS:
        args.connections = limit - SPARE_FDS
        print(f"RLIMIT_NOFILE allows {limit}: opening {args.connections:,} streams")
    result = in_workdir(run, args, "direto-bench-sse-idle-")
    return 1 if result is None else result


if __name__ == "__main__":
    entry_point(main)
