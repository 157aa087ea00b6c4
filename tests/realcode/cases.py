"""The corpus: functions imported unmodified from installed packages, with inputs to run them on.

Each :class:`Case` names a function as its package exports it and makes its arguments from a random
generator (``variant`` 0 and 1 give different values, and for some cases different shapes). Nothing
here rewrites a function: a case that needs a keyword passes it through ``functools.partial`` or a
bound method, as a user would. Packages missing from the environment skip their cases (the
``realcode`` extra installs them).
"""

from __future__ import annotations

import collections
import collections.abc
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Rng = np.random.Generator


@dataclass(frozen=True)
class Case:
    name: str  # "package: function"
    get: Callable[[], Callable[..., Any]]  # imports lazily: a missing package skips only its cases
    args: Callable[[Rng, int], tuple]
    rtol: float = 1e-10
    package: str = ""


def _module(name: str) -> Any:
    if name.startswith("numpy_ml") and not hasattr(collections, "Hashable"):
        # numpy-ml 0.1.2 imports collections.Hashable, gone since Python 3.10: alias it (its code unchanged)
        collections.Hashable = collections.abc.Hashable  # type: ignore[attr-defined]
    return importlib.import_module(name)


def attr(module: str, path: str, *args: Any, **kwargs: Any) -> Callable[[], Callable[..., Any]]:
    """The function ``module.path`` (dotted: ``Class.method``, or an instance built with ``args``/``kwargs``
    when the path ends in ``()``), bound to keyword arguments with functools.partial if any."""
    def get() -> Callable[..., Any]:
        obj: Any = _module(module)
        for part in path.split("."):
            if part.endswith("()"):
                obj = getattr(obj, part[:-2])(*args)
            else:
                obj = getattr(obj, part)
        return functools.partial(obj, **kwargs) if kwargs else obj
    return get


# ---- inputs -----------------------------------------------------------------------------------

def vec(n0: int, n1: int | None = None, scale: float = 1.0, shift: float = 0.0) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.standard_normal(n0 if v == 0 else (n1 or n0)) * scale + shift,)


def vec_pair(n: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.standard_normal(n + v), r.standard_normal(n + v))


def pos(n: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.uniform(0.1, 3.0, n + 2 * v),)


def prob(n: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.uniform(0.01, 0.99, n + v),)


def mat(rows: int, cols: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.standard_normal((rows + v, cols)),)


def mat_pair(rows: int, rows2: int, cols: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.standard_normal((rows + v, cols)), r.standard_normal((rows2, cols)))


def onehot_pred(n: int, k: int) -> Callable[[Rng, int], tuple]:
    def make(r: Rng, v: int) -> tuple:
        y = np.eye(k)[r.integers(0, k, n + v)]
        p = r.uniform(0.05, 1.0, (n + v, k))
        return y, p / p.sum(axis=1, keepdims=True)
    return make


def with_consts(make: Callable[[Rng, int], tuple], *consts: Any) -> Callable[[Rng, int], tuple]:
    return lambda r, v: make(r, v) + consts


def finance(*kinds: str) -> Callable[[Rng, int], tuple]:
    """Arrays for numpy-financial: rate (%/period), nper, pmt, pv, fv, per — one value per loan."""
    def make(r: Rng, v: int) -> tuple:
        n = 6 + v
        gen = {"rate": lambda: r.uniform(0.001, 0.02, n), "nper": lambda: r.integers(12, 360, n).astype(float),
               "pmt": lambda: -r.uniform(100, 2000, n), "pv": lambda: r.uniform(1e3, 1e5, n),
               "fv": lambda: r.uniform(0, 1e3, n), "per": lambda: r.integers(1, 12, n).astype(float),
               "flows": lambda: np.concatenate([[-r.uniform(1e3, 1e4)], r.uniform(100, 3000, 7 + v)])}
        return tuple(gen[k]() for k in kinds)
    return make


def npv_args(r: Rng, v: int) -> tuple:
    return np.float64(r.uniform(0.01, 0.1)), np.concatenate([[-1e4], r.uniform(1e3, 4e3, 6 + v)])


def same_pair(rows: int, cols: int) -> Callable[[Rng, int], tuple]:
    return lambda r, v: (r.standard_normal((rows + v, cols)), r.standard_normal((rows + v, cols)))


# ---- the corpus ---------------------------------------------------------------------------------

ML = "numpy_ml.neural_nets.activations"
_ACTIVATIONS = [("ReLU", ()), ("LeakyReLU", (0.2,)), ("Sigmoid", ()), ("Tanh", ()), ("Affine", (1.5, 0.2)),
                ("Identity", ()), ("ELU", (0.7,)), ("Exponential", ()), ("SELU", ()), ("HardSigmoid", ()),
                ("SoftPlus", ())]

CASES: list[Case] = [
    Case(f"numpy-ml: {cls}.{m}", attr(ML, f"{cls}().{m}", *a), mat(8, 5), package="numpy_ml")
    for cls, a in _ACTIVATIONS for m in ("fn", "grad", "grad2")
]

_D = "numpy_ml.utils.distance_metrics"
_K = "numpy_ml.utils.kernels"
_L = "numpy_ml.neural_nets.losses"
_DSP = "numpy_ml.preprocessing.dsp"
CASES += [Case(f"numpy-ml: {n}", attr(_D, n), vec_pair(7), package="numpy_ml")
          for n in ("euclidean", "manhattan", "chebyshev", "hamming")]
CASES += [
    Case("numpy-ml: minkowski", attr(_D, "minkowski", p=3), vec_pair(7), package="numpy_ml"),
    Case("numpy-ml: pairwise_l2_distances", attr(_K, "pairwise_l2_distances"), mat_pair(6, 4, 3), package="numpy_ml"),
    Case("numpy-ml: LinearKernel", attr(_K, "LinearKernel()"), mat_pair(6, 4, 3), package="numpy_ml"),
    Case("numpy-ml: PolynomialKernel", attr(_K, "PolynomialKernel()", 2, 0.5, 1.0), mat_pair(6, 4, 3),
         package="numpy_ml"),
    Case("numpy-ml: RBFKernel", attr(_K, "RBFKernel()", 1.3), mat_pair(6, 4, 3), package="numpy_ml"),
    Case("numpy-ml: SquaredError.loss", attr(_L, "SquaredError.loss"), same_pair(5, 3), package="numpy_ml"),
    Case("numpy-ml: CrossEntropy.loss", attr(_L, "CrossEntropy.loss"), onehot_pred(6, 4), package="numpy_ml"),
    Case("numpy-ml: CrossEntropy.grad", attr(_L, "CrossEntropy.grad"), onehot_pred(6, 4), package="numpy_ml"),
    Case("numpy-ml: DCT", attr(_DSP, "DCT"), vec(16, 12), rtol=1e-9, package="numpy_ml"),
    Case("numpy-ml: DCT (not orthonormal)", attr(_DSP, "DCT", orthonormal=False), vec(8), rtol=1e-9,
         package="numpy_ml"),
    Case("numpy-ml: DFT", attr(_DSP, "DFT"), vec(8), package="numpy_ml"),
    Case("numpy-ml: preemphasis", attr(_DSP, "preemphasis", alpha=0.97), vec(20, 13), package="numpy_ml"),
    Case("numpy-ml: cepstral_lifter", attr(_DSP, "cepstral_lifter", D=22), mat(5, 13), package="numpy_ml"),
    Case("numpy-ml: hz2mel", attr(_DSP, "hz2mel"), pos(9), package="numpy_ml"),
    Case("numpy-ml: mel2hz", attr(_DSP, "mel2hz"), pos(9), package="numpy_ml"),
    Case("numpy-ml: autocorrelate1D", attr(_DSP, "autocorrelate1D"), vec(9, 6), package="numpy_ml"),
    Case("numpy-ml: power_spectrum", attr(_DSP, "power_spectrum"), mat(4, 8), package="numpy_ml"),
    Case("numpy-ml: nn_interpolate_1D", attr(_DSP, "nn_interpolate_1D"),
         lambda r, v: (r.standard_normal((10, 3)), r.uniform(0, 8.9, 5 + v)), package="numpy_ml"),
]

NPF = "numpy_financial"
CASES += [
    Case("numpy-financial: fv", attr(NPF, "fv"), finance("rate", "nper", "pmt", "pv"), package=NPF),
    Case("numpy-financial: pv", attr(NPF, "pv"), finance("rate", "nper", "pmt", "fv"), package=NPF),
    Case("numpy-financial: pmt", attr(NPF, "pmt"), finance("rate", "nper", "pv", "fv"), package=NPF),
    Case("numpy-financial: pmt (begin)", attr(NPF, "pmt", when="begin"), finance("rate", "nper", "pv"), package=NPF),
    Case("numpy-financial: nper", attr(NPF, "nper"), finance("rate", "pmt", "pv"), package=NPF),
    Case("numpy-financial: ipmt", attr(NPF, "ipmt"), finance("rate", "per", "nper", "pv"), package=NPF),
    Case("numpy-financial: ppmt", attr(NPF, "ppmt"), finance("rate", "per", "nper", "pv"), package=NPF),
    Case("numpy-financial: npv", attr(NPF, "npv"), npv_args, package=NPF),
    Case("numpy-financial: mirr", attr(NPF, "mirr"), with_consts(finance("flows"), 0.05, 0.07), package=NPF),
    Case("numpy-financial: rate", attr(NPF, "rate"), finance("nper", "pmt", "pv", "fv"), package=NPF),
    Case("numpy-financial: irr", attr(NPF, "irr"), finance("flows"), package=NPF),
]

CASES += [Case(f"PyWavelets: threshold {m}", attr("pywt", "threshold", mode=m), with_consts(vec(12, 9), 0.5),
               package="pywt") for m in ("soft", "hard", "garrote", "greater", "less")]
CASES += [Case("PyWavelets: threshold_firm", attr("pywt", "threshold_firm"), with_consts(vec(12), 0.3, 1.2),
               package="pywt")]

SPS = "scipy.special"
CASES += [Case(f"SciPy: special.{n}", attr(SPS, n), make, package="scipy") for n, make in [
    ("softmax", mat(4, 6)), ("log_softmax", mat(4, 6)), ("logsumexp", mat(4, 6)), ("expit", vec(9)),
    ("logit", prob(9)), ("xlogy", lambda r, v: (r.uniform(0, 2, 8 + v), r.uniform(0.1, 3, 8 + v))),
    ("xlog1py", lambda r, v: (r.uniform(0, 2, 8 + v), r.uniform(-0.5, 3, 8 + v))), ("entr", pos(9)),
    ("ndtr", vec(9, scale=3)), ("erf", vec(9)), ("erfc", vec(9, scale=2)), ("gammaln", pos(9)),
    ("digamma", pos(9)), ("ndtri", prob(9)), ("log_ndtr", vec(9, scale=3)), ("erfinv", prob(9)),
    ("rel_entr", lambda r, v: (r.uniform(0.1, 1, 8 + v), r.uniform(0.1, 1, 8 + v))),
    ("kl_div", lambda r, v: (r.uniform(0.1, 1, 8 + v), r.uniform(0.1, 1, 8 + v))),
    ("huber", lambda r, v: (np.float64(1.0), r.standard_normal(8 + v))),
    ("pseudo_huber", lambda r, v: (np.float64(1.0), r.standard_normal(8 + v))),
]]
CASES += [
    Case("SciPy: special.softmax (axis=1)", attr(SPS, "softmax", axis=1), mat(4, 6), package="scipy"),
    Case("SciPy: special.logsumexp (axis=-1)", attr(SPS, "logsumexp", axis=-1), mat(4, 6), package="scipy"),
]
SPD = "scipy.spatial.distance"
CASES += [Case(f"SciPy: spatial.distance.{n}", attr(SPD, n), vec_pair(7), package="scipy") for n in (
    "euclidean", "sqeuclidean", "cityblock", "chebyshev", "cosine", "correlation", "braycurtis", "canberra")]
CASES += [Case("SciPy: spatial.distance.minkowski", attr(SPD, "minkowski", p=3), vec_pair(7), package="scipy")]
CASES += [
    Case("SciPy: stats.zscore", attr("scipy.stats", "zscore"), mat(6, 4), package="scipy"),
    Case("SciPy: stats.entropy", attr("scipy.stats", "entropy"), pos(7), package="scipy"),
    Case("SciPy: stats.gmean", attr("scipy.stats", "gmean"), pos(7), package="scipy"),
    Case("SciPy: stats.hmean", attr("scipy.stats", "hmean"), pos(7), package="scipy"),
    Case("SciPy: stats.variation", attr("scipy.stats", "variation"), pos(7), package="scipy"),
]

SKP = "sklearn.metrics.pairwise"
SKN = "sklearn.neural_network._base"
SKX = "sklearn.utils.extmath"
CASES += [Case(f"scikit-learn: {n}", attr(SKP, n), mat_pair(6, 4, 3), package="sklearn") for n in (
    "linear_kernel", "polynomial_kernel", "rbf_kernel", "sigmoid_kernel", "cosine_similarity",
    "euclidean_distances", "manhattan_distances", "laplacian_kernel")]
CASES += [
    Case("scikit-learn: extmath.softmax", attr(SKX, "softmax", copy=True), mat(5, 4), package="sklearn"),
    Case("scikit-learn: extmath.row_norms", attr(SKX, "row_norms"), mat(5, 4), package="sklearn"),
    Case("scikit-learn: extmath.row_norms (squared)", attr(SKX, "row_norms", squared=True), mat(5, 4),
         package="sklearn"),
    Case("scikit-learn: extmath.squared_norm", attr(SKX, "squared_norm"), mat(5, 4), package="sklearn"),
    Case("scikit-learn: extmath.safe_sparse_dot", attr(SKX, "safe_sparse_dot"),
         lambda r, v: (r.standard_normal((4 + v, 3)), r.standard_normal((3, 5))), package="sklearn"),
    Case("scikit-learn: nn squared_loss", attr(SKN, "squared_loss"), same_pair(5, 3), package="sklearn"),
    Case("scikit-learn: nn log_loss", attr(SKN, "log_loss"), onehot_pred(6, 4), package="sklearn"),
    Case("scikit-learn: nn binary_log_loss", attr(SKN, "binary_log_loss"),
         lambda r, v: (r.integers(0, 2, (6 + v, 1)).astype(float), r.uniform(0.05, 0.95, (6 + v, 1))),
         package="sklearn"),
    Case("scikit-learn: nn inplace_relu", attr(SKN, "inplace_relu"), mat(5, 4), package="sklearn"),
    Case("scikit-learn: mean_squared_error", attr("sklearn.metrics", "mean_squared_error"), vec_pair(9),
         package="sklearn"),
    Case("scikit-learn: r2_score", attr("sklearn.metrics", "r2_score"), vec_pair(9), package="sklearn"),
]

NP = "numpy"
CASES += [Case(f"NumPy: {n}", attr(NP, n), make, package="numpy") for n, make in [
    ("cross", lambda r, v: (r.standard_normal((4 + v, 3)), r.standard_normal((4 + v, 3)))),
    ("kron", lambda r, v: (r.standard_normal((2, 3)), r.standard_normal((2 + v, 2)))),
    ("average", mat(4, 5)), ("cov", mat(3, 6)), ("corrcoef", mat(3, 6)), ("sinc", vec(9)),
    ("trapezoid", vec(9, 7)), ("ptp", mat(4, 5)),
    ("polyval", lambda r, v: (r.standard_normal(4), r.standard_normal(9))),
    ("gradient", vec(9, 7)), ("diff", vec(9)), ("ediff1d", vec(9)), ("vander", vec(5)),
    ("append", vec_pair(4)), ("atleast_2d", vec(5)), ("atleast_3d", mat(2, 3)), ("fliplr", mat(3, 4)),
    ("flipud", mat(3, 4)), ("rot90", mat(3, 4)), ("nan_to_num", lambda r, v: (np.array([1.0, np.nan, np.inf, -np.inf,
                                                                                        2.0 + v]),)),
    ("isclose", vec_pair(6)), ("allclose", vec_pair(6)), ("outer", vec_pair(4)), ("tril", mat(4, 4)),
    ("triu", mat(4, 4)), ("i0", vec(7)), ("angle", vec(7)), ("unwrap", vec(9, scale=4)), ("median", vec(9)),
    ("percentile", with_consts(vec(9), 30.0)), ("interp", lambda r, v: (r.uniform(0, 5, 6 + v), np.arange(6.0),
                                                                        r.standard_normal(6))),
    ("column_stack", lambda r, v: ((r.standard_normal(4 + v), r.standard_normal(4 + v)),)),
    ("dstack", lambda r, v: ((r.standard_normal(4 + v), r.standard_normal(4 + v)),)),
    ("hstack", lambda r, v: ((r.standard_normal(4 + v), r.standard_normal(2)),)),
    ("insert", lambda r, v: (r.standard_normal(5 + v), 2, 7.0)), ("delete", lambda r, v: (r.standard_normal(6 + v), 1)),
    ("meshgrid", vec_pair(3)), ("convolve", vec_pair(5)), ("correlate", vec_pair(5)),
    ("cumsum", vec(9)), ("nanmean", lambda r, v: (np.where(r.uniform(size=9) < 0.3, np.nan, r.standard_normal(9)),)),
    ("nansum", lambda r, v: (np.where(r.uniform(size=9) < 0.3, np.nan, r.standard_normal(9 + 0 * v)),)),
    ("nanmax", lambda r, v: (np.where(r.uniform(size=9) < 0.3, np.nan, r.standard_normal(9)),)),
    ("linalg.norm", mat(4, 5)), ("tensordot", lambda r, v: (r.standard_normal((3, 4, 2)), r.standard_normal((4, 2)))),
    ("sort", vec(7)), ("argsort", vec(7)), ("searchsorted", lambda r, v: (np.sort(r.standard_normal(8)),
                                                                          r.standard_normal(3 + v))),
    ("histogram", vec(20)), ("bincount", lambda r, v: (r.integers(0, 5, 12 + v),)), ("unique", vec(7)),
    ("linalg.solve", lambda r, v: (r.standard_normal((3, 3)) + 3 * np.eye(3), r.standard_normal(3))),
    ("linalg.inv", lambda r, v: (r.standard_normal((3, 3)) + 3 * np.eye(3),)),
    ("linalg.det", lambda r, v: (r.standard_normal((3, 3)),)),
]]


def case_by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)
