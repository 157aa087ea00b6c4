"""ns/element of fusejit's vector math loops (fusejit.codegen.vecmath) vs NumPy at 10^6 elements.

Run: python bench/micro_vecmath.py [op ...]   (default: exp tanh log erf logistic). Not a test.
Uses the loop builder of tests/codegen/test_vecmath.py, i.e. ``out[i] = op(x[i])`` at O3 on the host ISA.
float32 exp, log and tanh are inline polynomials (fusejit.codegen.vecmath); the other rows call libmvec.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import scipy.special as sc  # noqa: E402
from codegen.test_vecmath import kernels  # noqa: E402

from fusejit.codegen.vecmath import LIBM_OPS, host_isa  # noqa: E402

N = 1_000_000


def best_ns(fn, reps: int = 30) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e9 / N


def main(ops: list[str]) -> None:
    isa = host_isa()
    rng = np.random.default_rng(0)
    print(f"isa={isa}  n={N}  best of 30, NumPy/SciPy writing into out=; inputs ~ N(0, 3), |x| for log/pow base")
    print(f"{'op':10s} {'dtype':8s} {'fusejit':>9s} {'numpy':>9s} {'ratio':>6s}")
    for op in ops:
        for dt in (np.float32, np.float64):
            x = (rng.standard_normal(N) * 3).astype(dt)
            if op in ("log", "log2", "log10", "sqrt", "pow", "arccosh"):
                x = np.abs(x) + (1 if op == "arccosh" else 0)
            if op in ("arcsin", "arccos", "arctanh"):
                x = np.tanh(x)
            xs = (x, (rng.standard_normal(N) * 3).astype(dt)) if LIBM_OPS.get(op, ("", 1))[1] == 2 else (x,)
            out = np.empty_like(x)
            k = kernels(isa, dt)[1][op]
            ptrs = [a.ctypes.data for a in xs]
            ours = best_ns(lambda k=k, ptrs=ptrs, out=out: k(*ptrs, out.ctypes.data, N))
            ufunc = {"erf": sc.erf, "logistic": sc.expit, "pow": np.power}.get(op) or getattr(np, op)
            with np.errstate(all="ignore"):
                ref = best_ns(lambda xs=xs, ufunc=ufunc, out=out: ufunc(*xs, out=out))
            print(f"{op:10s} {np.dtype(dt).name:8s} {ours:9.3f} {ref:9.3f} {ref / ours:6.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:] or ["exp", "tanh", "log", "erf", "logistic"])
