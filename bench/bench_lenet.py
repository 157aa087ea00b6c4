"""The deep-MNIST CNN forward at batch 64: fusejit.nn vs PyTorch eager and JAX jit (where installed).

    python bench/bench_lenet.py [--rounds N] [--batch B]

conv 5x5x32 SAME + bias + relu -> max_pool 2x2 -> conv 5x5x64 SAME + bias + relu -> max_pool 2x2 ->
dense 1024 + relu -> dense 10, float32. Every variant is checked against fusejit's output first;
calls are interleaved (one of each per round, rotating), medians reported. The machine is shared:
read the spread of several runs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

import fusejit
from fusejit import nn


def weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def init(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2 / np.prod(shape[:-1]))).astype(np.float32)

    return {"w1": init(5, 5, 1, 32), "b1": np.full(32, 0.1, np.float32), "w2": init(5, 5, 32, 64),
            "b2": np.full(64, 0.1, np.float32), "w3": init(7 * 7 * 64, 1024), "b3": np.full(1024, 0.1, np.float32),
            "w4": init(1024, 10), "b4": np.zeros(10, np.float32)}


def forward(x: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    h = nn.max_pool2d(nn.relu(nn.bias_add(nn.conv2d(x, p["w1"], 1, "SAME"), p["b1"])), 2, 2, "SAME")
    h = nn.max_pool2d(nn.relu(nn.bias_add(nn.conv2d(h, p["w2"], 1, "SAME"), p["b2"])), 2, 2, "SAME")
    h = nn.relu(np.reshape(h, (-1, 7 * 7 * 64)) @ p["w3"] + p["b3"])
    return h @ p["w4"] + p["b4"]


def torch_forward(x: np.ndarray, p: dict[str, np.ndarray]) -> Callable[[], object] | None:
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        return None
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    t = {k: torch.from_numpy(v.transpose(3, 2, 0, 1).copy() if v.ndim == 4 else v) for k, v in p.items()}
    # the dense layer reads NHWC-flattened features: permute back before flattening, as the model says
    def run() -> object:
        with torch.no_grad():
            h = F.max_pool2d(F.relu(F.conv2d(tx, t["w1"], t["b1"], padding=2)), 2)
            h = F.max_pool2d(F.relu(F.conv2d(h, t["w2"], t["b2"], padding=2)), 2)
            h = F.relu(h.permute(0, 2, 3, 1).reshape(-1, 7 * 7 * 64) @ t["w3"] + t["b3"])
            return (h @ t["w4"] + t["b4"]).numpy()
    return run


def jax_forward(x: np.ndarray, p: dict[str, np.ndarray]) -> Callable[[], object] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def f(x, p):
        def conv(h, w, b):
            y = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return jax.nn.relu(y + b)

        def pool(h):
            return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")

        h = pool(conv(pool(conv(x, p["w1"], p["b1"])), p["w2"], p["b2"]))
        h = jax.nn.relu(h.reshape(-1, 7 * 7 * 64) @ p["w3"] + p["b3"])
        return h @ p["w4"] + p["b4"]

    jf = jax.jit(f)
    jx, jp = jax.device_put(x), jax.device_put(p)
    return lambda: np.asarray(jf(jx, jp).block_until_ready())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="fusejit's threads, and NumPy's OpenBLAS and torch's pools limited to as many")
    opts = ap.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(opts.threads):
        run(opts)


def run(opts: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    p = weights(rng)
    x = rng.standard_normal((opts.batch, 28, 28, 1), dtype=np.float32)
    fj = fusejit.jit(forward, threads=opts.threads)
    try:
        import torch

        torch.set_num_threads(opts.threads)
    except ImportError:
        pass
    want = fj(x, p)
    variants: dict[str, Callable[[], object]] = {"fusejit": lambda: fj(x, p),
                                                 "NumPy (fusejit.nn eager)": lambda: forward(x, p)}
    for name, make in (("torch eager", torch_forward), ("JAX jit", jax_forward)):
        v = make(x, p)
        if v is not None:
            variants[name] = v
    for name, v in variants.items():
        np.testing.assert_allclose(v(), want, rtol=2e-3, atol=2e-3, err_msg=name)
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(opts.rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            variants[k]()
            times[k].append(time.perf_counter() - t)
    print(f"deep-MNIST CNN forward, batch {opts.batch}, {opts.threads} thread(s) (JAX: its own), "
          f"load {os.getloadavg()[0]:.2f}")
    print(fj.lower(x, p).describe())
    base = float(np.median(times["fusejit"]))
    for k, ts in times.items():
        med = float(np.median(ts))
        print(f"{k:26} {med * 1e3:8.2f} ms  (fusejit x{med / base:.2f} faster)")


if __name__ == "__main__":
    main()
