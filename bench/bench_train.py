"""Training-step throughput: MLP 784-512-512-10, Adam, batch 128, float32; and the Adam step alone
against its memory roofline.

    python bench/bench_train.py [--budget SECONDS] [--threads N]

Train step = forward, softmax cross-entropy, backward, Adam update of all six parameters:

* fusejit: ``opt.minimize`` inside ``@fusejit.jit`` — one compiled program, updates written in place;
* PyTorch eager with ``Adam(fused=True)`` (its fastest CPU optimizer), and with the per-tensor
  loop (``foreach=False``); ``torch.compile`` of the loss with the fused Adam;
* JAX: ``jit`` of the whole step (value_and_grad + TensorFlow's Adam written in jax.numpy),
  parameters and moments donated so XLA may update them in place.

Optimizer step alone (gradients given): fusejit ``apply_gradients`` in its own jitted program,
PyTorch fused / foreach / per-tensor ``step()``, JAX jitted update; the roofline is the compulsory
traffic of Adam — read gradient, parameter, m, v; write parameter, m, v: 28 bytes per float32
parameter — at the copy bandwidth measured in the same run (fusejit.bench.roofline).

Before timing, every variant takes one step from the same weights and its loss and new weights
are checked against fusejit's (PyTorch's ε is set to TensorFlow's ε/√(1 − β2) so the first step
agrees). Timings are medians of interleaved calls in one process (fusejit.bench.timing): every
variant sees the same load of this shared machine; the load average is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

import numpy as np

import fusejit
from fusejit import nn, train
from fusejit.bench.roofline import measure_copy_bandwidth
from fusejit.bench.timing import time_interleaved

SIZES, BATCH, LR, B1, B2, EPS = (784, 512, 512, 10), 128, 1e-3, 0.9, 0.999, 1e-7


def initial(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        out += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32), np.zeros(b, np.float32)]
    return out


def mlp_loss(xp_maximum, params, x, y):
    h = x
    for i in range(0, len(params) - 2, 2):
        h = xp_maximum(h @ params[i] + params[i + 1], 0)
    return h @ params[-2] + params[-1]


# ---- fusejit -----------------------------------------------------------------------------------

def fusejit_variants(w0, x, y, threads):
    params = [fusejit.Variable(w) for w in w0]
    opt = train.Adam(LR, B1, B2, EPS)

    @fusejit.jit(threads=threads)
    def step(x, y):
        def loss():
            logits = mlp_loss(np.maximum, params, x, None)
            return np.mean(nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return opt.minimize(loss, params)

    gparams = [fusejit.Variable(w) for w in w0]
    gopt = train.Adam(LR, B1, B2, EPS)

    @fusejit.jit(threads=threads)
    def apply(*grads):
        gopt.apply_gradients(zip(grads, gparams))

    return step, params, apply, step.lower(x, y)


# ---- PyTorch -----------------------------------------------------------------------------------

def torch_variants(w0, x, y, grads, threads):
    import torch

    torch.set_num_threads(threads)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    eps = EPS / np.sqrt(1 - B2)  # TensorFlow's ε at t = 1 (the check step)

    def forward(ps, xx, yy):
        logits = mlp_loss(lambda a, _: torch.relu(a), ps, xx, None)
        return torch.nn.functional.cross_entropy(logits, yy)

    def make(kind, compiled=False):
        ps = [torch.tensor(w, requires_grad=True) for w in w0]
        opt = torch.optim.Adam(ps, lr=LR, betas=(B1, B2), eps=eps, **kind)
        fwd = torch.compile(forward) if compiled else forward

        def step():
            opt.zero_grad(set_to_none=True)
            loss = fwd(ps, tx, ty)
            loss.backward()
            opt.step()
            return loss

        return step, ps

    def make_apply(kind):
        ps = [torch.tensor(w, requires_grad=True) for w in w0]
        for p, g in zip(ps, grads):
            p.grad = torch.from_numpy(g.copy())
        opt = torch.optim.Adam(ps, lr=LR, betas=(B1, B2), eps=eps, **kind)
        return opt.step, ps

    steps = {"torch eager, fused Adam": make({"fused": True}),
             "torch eager, per-tensor Adam": make({"foreach": False}),
             "torch.compile loss, fused Adam": make({"fused": True}, compiled=True)}
    applies = {"torch fused": make_apply({"fused": True}), "torch foreach": make_apply({"foreach": True}),
               "torch per-tensor": make_apply({"foreach": False})}
    return steps, applies


# ---- JAX ---------------------------------------------------------------------------------------

def jax_variants(w0, x, y, grads):
    import jax
    import jax.numpy as jnp

    def loss(ps, xx, yy):
        logits = mlp_loss(jnp.maximum, ps, xx, None)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, yy[:, None], axis=1))

    def adam(ps, gs, ms, vs, t):
        t = t + 1
        alpha = LR * jnp.sqrt(1 - B2 ** t) / (1 - B1 ** t)
        ms = [m + (g - m) * (1 - B1) for m, g in zip(ms, gs)]
        vs = [v + (g * g - v) * (1 - B2) for v, g in zip(vs, gs)]
        ps = [p - (alpha * m / (jnp.sqrt(v) + EPS)).astype(p.dtype) for p, m, v in zip(ps, ms, vs)]
        return ps, ms, vs, t

    @jax.jit
    def step(ps, ms, vs, t, xx, yy):
        value, gs = jax.value_and_grad(loss)(ps, xx, yy)
        return (*adam(ps, gs, ms, vs, t), value)

    step = jax.jit(step, donate_argnums=(0, 1, 2))
    update = jax.jit(adam, donate_argnums=(0, 2, 3))
    jx, jy, jg = jax.device_put(x), jax.device_put(y), [jax.device_put(g) for g in grads]

    def fresh():
        return ([jax.device_put(w) for w in w0], [jnp.zeros_like(w) for w in w0], [jnp.zeros_like(w) for w in w0],
                jnp.float32(0))

    state = list(fresh())

    def run_step():
        *new, value = step(*state, jx, jy)
        state[:] = new
        return jax.block_until_ready(value)

    ustate = list(fresh())

    def run_update():
        ps, ms, vs, t = update(ustate[0], jg, ustate[1], ustate[2], ustate[3])
        ustate[:] = [ps, ms, vs, t]
        jax.block_until_ready(ps)

    return run_step, state, run_update


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of timing per table")
    ap.add_argument("--threads", type=int, default=1, help="threads for every library")
    opts = ap.parse_args()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    w0 = initial()
    grads = [rng.standard_normal(w.shape).astype(np.float32) * 1e-2 for w in w0]
    n_params = sum(w.size for w in w0)
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {n_params} float32 parameters; threads {opts.threads}; "
          f"load average {os.getloadavg()[0]:.1f}")

    step, params, apply, exe = fusejit_variants(w0, x, y, opts.threads)
    want_loss = float(step(x, y))
    want = [p.numpy() for p in params]
    print(f"fusejit step: {exe.num_kernels} kernels; outputs written in place into "
          f"{len(exe.inplace)} of {len(exe.inplace)} state buffers")
    steps = {"fusejit": lambda: step(x, y)}
    applies = {"fusejit": lambda: apply(*grads)}

    def check(name, loss, ps):
        loss = loss.detach() if hasattr(loss, "detach") else loss
        got = [p.detach().numpy() if hasattr(p, "detach") else np.asarray(p) for p in ps]
        err = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want))
        ok = abs(float(loss) - want_loss) <= 1e-4 * abs(want_loss) and err <= 1e-5
        verdict = "ok" if ok else "MISMATCH"
        print(f"  check {name}: loss {float(loss):.6f} vs {want_loss:.6f}, max |Δw| {err:.2e} {verdict}")
        if not ok:
            raise SystemExit(f"{name} disagrees with fusejit")

    if importlib.util.find_spec("torch"):
        tsteps, tapplies = torch_variants(w0, x, y, grads, opts.threads)
        for name, (fn, ps) in tsteps.items():
            check(name, fn(), ps)
            steps[name] = fn
        applies.update({name: fn for name, (fn, _) in tapplies.items()})
    if importlib.util.find_spec("jax"):
        run_step, state, run_update = jax_variants(w0, x, y, grads)
        check("JAX jit", run_step(), state[0])
        steps["JAX jit (donated)"] = run_step
        applies["JAX jit (donated)"] = run_update

    for fn in [*steps.values(), *applies.values()]:
        fn()
    results = time_interleaved(steps, opts.budget)
    base = results["fusejit"].median
    print(f"\ntrain step (ms, median; ratio = time / fusejit's; load average {os.getloadavg()[0]:.1f})")
    for name, s in results.items():
        print(f"  {name:34s} {1e3 * s.median:8.2f}  x{s.median / base:5.2f}")

    nbytes = 28 * n_params
    src = np.ones(nbytes // 8, np.float32)  # a copy of nbytes/2 moves nbytes: Adam's traffic, same footprint
    dst = np.zeros_like(src)
    applies["copy of the same traffic (roofline)"] = lambda: np.copyto(dst, src)
    results = time_interleaved(applies, opts.budget)
    roof = results["copy of the same traffic (roofline)"].median
    bw = measure_copy_bandwidth(opts.threads, nbytes=1 << 27, tries=5)
    print(f"\nAdam step alone ({nbytes / 2**20:.1f} MiB compulsory traffic = 28 B/parameter; a NumPy copy moving the "
          f"same bytes, interleaved: {1e3 * roof:.3f} ms = {nbytes / roof / 1e9:.1f} GB/s; STREAM-style copy of 128 "
          f"MiB: {bw.best / 1e9:.1f} GB/s; load average {os.getloadavg()[0]:.1f})")
    base = results["fusejit"].median
    for name, s in results.items():
        share = 100 * roof / s.median
        print(f"  {name:38s} {1e3 * s.median:8.3f} ms  x{s.median / base:6.2f}  {share:5.1f}% of roofline")

if __name__ == "__main__":
    main()
