"""A small HTTP/1.1 load generator: concurrent keep-alive clients on asyncio, every response checked.

Used by the soak test and ``bench/bench_serve.py`` (with :func:`free_port` and
:func:`wait_for_server` to start the server they load). Each client owns one connection and sends its
requests back to back (a closed loop: ``clients`` requests in flight); a request body is
pre-encoded, so a request costs the client a write and a read. ``check(index, status, body)``
judges every response; a response it rejects (or a connection error) is a failure, kept with its
reason. Latencies are per request, from write to the last byte read.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(q / 100 * len(s)))]


def request_bytes(path: str, body: bytes, content_type: str = "application/json", host: str = "127.0.0.1") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(v) for k, _, v in (ln.partition(":") for ln in lines[1:]) if k.lower() == "content-length"),
                  None)
    if length is None:
        raise ConnectionError("response without Content-Length")
    return status, await reader.readexactly(length)


async def run_load(host: str, port: int, requests: Sequence[bytes], clients: int, seconds: float,
                   check: Callable[[int, int, bytes], str | None], on_tick: Callable[[float], None] | None = None
                   ) -> LoadResult:
    """``clients`` connections send ``requests`` (cycled, client k starting at k) for ``seconds``;
    ``check`` returns None for a good response or the reason it is wrong."""
    result = LoadResult()
    start = time.perf_counter()
    stop = start + seconds

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        i = k
        try:
            while time.perf_counter() < stop:
                idx = i % len(requests)
                t = time.perf_counter()
                try:
                    writer.write(requests[idx])
                    status, body = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.failures.append(f"client {k}: {type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies.append(time.perf_counter() - t)
                reason = check(idx, status, body)
                if reason is not None:
                    result.failures.append(f"client {k}, request {idx}: {reason}")
                i += clients
        finally:
            writer.close()

    async def ticker() -> None:
        while (now := time.perf_counter()) < stop:
            if on_tick is not None:
                on_tick(now - start)
            await asyncio.sleep(0.1)

    await asyncio.gather(ticker(), *(client(k) for k in range(clients)))
    result.seconds = time.perf_counter() - start
    return result


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (for starting a server in tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_server(proc: subprocess.Popen, port: int, seconds: float = 120.0, host: str = "127.0.0.1") -> None:
    """Return once ``proc`` accepts connections on ``port``; raise with its output if it exits or
    does not start within ``seconds`` (models load before the port opens)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace")[-4000:] if proc.stdout else ""
            raise RuntimeError(f"the server exited with status {proc.returncode}: {out}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not listen on {host}:{port} within {seconds:g} s")
