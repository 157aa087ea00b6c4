"""Is a variant's answer NumPy's answer? Checked before any timing; a wrong answer is never timed.

The error measure is ``max |got - want| / max |want|`` per output — scale-aware, so summation
order and last-bit differences in transcendental functions pass while a wrong formula does not.
NaN and inf must sit in the same places; shapes must match, and dtypes too for fusejit (peers
may legitimately compute in another precision, e.g. numba's float64 accumulators).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class WrongAnswer(Exception):
    """The variant's result differs from NumPy's; the message says where and by how much."""


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    finite = np.isfinite(want)
    if not finite.any():
        return 0.0
    want_f = want[finite].astype(np.float64)
    scale = float(np.max(np.abs(want_f))) or 1.0
    return float(np.max(np.abs(got[finite].astype(np.float64) - want_f))) / scale


def check_result(got: Sequence[np.ndarray], want: Sequence[np.ndarray], tol: float, strict_dtype: bool) -> float:
    """The worst relative error over the outputs; raises WrongAnswer if anything disagrees."""
    if len(got) != len(want):
        raise WrongAnswer(f"{len(got)} output(s), NumPy has {len(want)}")
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        label = f"output {i}" if len(want) > 1 else "output"
        if g.shape != w.shape:
            raise WrongAnswer(f"{label}: shape {g.shape}, NumPy's is {w.shape}")
        if strict_dtype and g.dtype != w.dtype:
            raise WrongAnswer(f"{label}: dtype {g.dtype}, NumPy's is {w.dtype}")
        if not np.array_equal(np.isnan(g), np.isnan(w)):
            raise WrongAnswer(f"{label}: NaN in other places than NumPy's")
        if not np.array_equal(np.isinf(g) & ~np.isnan(w), np.isinf(w)) or not np.array_equal(g[np.isinf(w)],
                                                                                            w[np.isinf(w)]):
            raise WrongAnswer(f"{label}: infinities differ from NumPy's")
        err = relative_error(g, w)
        if not err <= tol:
            raise WrongAnswer(f"{label}: relative error {err:.3g} exceeds {tol:.0e}")
        worst = max(worst, err)
    return worst
