"""The server as users run it (``fusejit serve`` in a process of its own, on loopback): graceful
shutdown on SIGTERM, and a soak test with concurrent clients while a new version is hot-loaded.

The soak runs ``FUSEJIT_SOAK_SECONDS`` (default 12; set 60 or more for the long profile)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson

from fusejit.serve.loadgen import free_port, request_bytes, run_load, wait_for_server

from .conftest import expected, write_version

ROOT = Path(__file__).resolve().parents[2]


def start_server(base: Path, port: int, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "fusejit.cli", "serve", "--model_name=lin",
                             f"--model_base_path={base}", f"--rest_api_port={port}", "--rest_api_host=127.0.0.1",
                             *flags], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_server(proc, port, 60)
    return proc


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def post(port: int, body: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request_bytes("/v1/models/lin:predict", body).replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\n"
                                                                                          b"Connection: close\r\n", 1))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def test_sigterm_finishes_requests_in_flight(tmp_path: Path) -> None:
    base = tmp_path / "lin"
    write_version(base, 1)
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 64 }\nbatch_timeout_micros { value: 1500000 }\n")
    port = free_port()
    proc = start_server(base, port, "--enable_batching", f"--batching_parameters_file={batching}")
    x = np.array([[1, 2, 3, 4]], np.float32)
    got: dict = {}
    t = threading.Thread(target=lambda: got.update(r=post(port, orjson.dumps({"instances": x.tolist()}))))
    t.start()
    time.sleep(0.5)  # the request now waits in its batch (1.5 s timeout)
    proc.send_signal(signal.SIGTERM)
    t.join(30)
    # uvicorn re-raises the signal once it has shut down gracefully: the exit is "killed by SIGTERM"
    assert proc.wait(30) in (0, -signal.SIGTERM)
    assert b"stopped: 1 model version(s) unloaded" in proc.stdout.read()
    status, body = got["r"]
    assert status == 200, body
    np.testing.assert_array_equal(np.array(orjson.loads(body)["predictions"], np.float32), expected(1, x))


def test_soak_with_a_hot_loaded_version(tmp_path: Path) -> None:
    seconds = float(os.environ.get("FUSEJIT_SOAK_SECONDS", "12"))
    base = tmp_path / "lin"
    write_version(base, 1)
    batching = tmp_path / "batching.txt"
    batching.write_text("max_batch_size { value: 16 }\nbatch_timeout_micros { value: 1000 }\n"
                        "max_enqueued_batches { value: 64 }\nallowed_batch_sizes: 4\nallowed_batch_sizes: 16\n")
    port = free_port()
    proc = start_server(base, port, "--enable_batching", f"--batching_parameters_file={batching}",
                        "--file_system_poll_wait_seconds=0.2")
    try:
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((n, 4)).astype(np.float32) for n in (1, 2, 3, 1, 5, 1, 2, 7)]
        answers = [{v: expected(v, x) for v in (1, 2)} for x in xs]
        requests = [request_bytes("/v1/models/lin:predict", orjson.dumps({"instances": x.tolist()})) for x in xs]
        seen_v2 = {"at": None}
        rss: list[tuple[float, int]] = []

        def check(i: int, status: int, body: bytes) -> str | None:
            if status != 200:
                return f"status {status}: {body[:200]!r}"
            got = np.array(orjson.loads(body)["predictions"], np.float32)
            for v in (1, 2):
                # rows batched with other requests may round differently (BLAS picks kernels by size)
                if got.shape == answers[i][v].shape and np.allclose(got, answers[i][v], rtol=1e-5, atol=1e-6):
                    if v == 2 and seen_v2["at"] is None:
                        seen_v2["at"] = time.monotonic()
                    return None
            return f"wrong answer {got.tolist()} (neither version's)"

        def tick(elapsed: float) -> None:
            if elapsed >= seconds / 3 and not (base / "2").exists():
                write_version(base, 2)
            rss.append((elapsed, rss_kib(proc.pid)))

        result = asyncio.run(run_load("127.0.0.1", port, requests, clients=8, seconds=seconds, check=check,
                                      on_tick=tick))
        assert result.failures == [], result.failures[:5]
        assert result.count > 100 * seconds / 12
        assert seen_v2["at"] is not None, "version 2 never answered"
        # memory flat once version 2 is in: the last third against the middle third
        mid = [k for t, k in rss if seconds / 3 + 2 < t < 2 * seconds / 3]
        last = [k for t, k in rss if t >= 2 * seconds / 3]
        assert mid and last
        growth = max(last) - max(mid)
        assert growth < 8 * 1024, f"RSS grew {growth} KiB while serving ({max(mid)} -> {max(last)} KiB)"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)
