"""The real-code corpus (tests/realcode/cases.py): every function, imported unmodified from its package,
runs through jit on two inputs and matches NumPy (dtype, shape, values; inputs unmodified). Cases that
do not are listed in EXPECTED_FAILURES with the reason, strictly: a listed case that starts working
fails this test until it is taken off the list, so the list (and the share in the README) stays true."""

from __future__ import annotations

import pytest

from .cases import CASES, Case
from .runner import available, run_case

_LAPACK = "np.linalg via LAPACK is not translated yet"
_SORT = "sorting and order statistics are not translated yet"
_DYNAMIC = "the result's shape depends on the data"
_FLOAT = "returns float() of a traced value (a Python float computed from the data)"
_ROWS = "scipy.stats' shape bookkeeping writes rows of an array it created (writes through views are refused)"
EXPECTED_FAILURES: dict[str, str] = {
    "numpy-ml: CrossEntropy.loss": "is_binary: np.unique of the labels (a data-dependent shape)",
    "numpy-ml: CrossEntropy.grad": "is_binary: np.unique of the labels (a data-dependent shape)",
    "numpy-ml: DFT": "complex dtypes are not supported",
    "numpy-ml: power_spectrum": "complex dtypes are not supported (np.fft)",
    "numpy-financial: ipmt": "isinstance(when, np.ndarray) is False for a traced array; the dict lookup then hashes it",
    "numpy-financial: ppmt": "isinstance(when, np.ndarray) is False for a traced array; the dict lookup then hashes it",
    "numpy-financial: irr": "np.roots (eigenvalues, data-dependent shape)",
    "PyWavelets: threshold_firm": _DYNAMIC + " (one-argument np.where)",
    "SciPy: special.gammaln": "no primitive for lgamma yet",
    "SciPy: special.digamma": "no primitive for digamma yet",
    "SciPy: special.ndtri": "no primitive for the inverse normal CDF yet",
    "SciPy: special.log_ndtr": "no decomposition of log_ndtr yet",
    "SciPy: special.erfinv": "no primitive for erfinv yet",
    "SciPy: special.pseudo_huber": "no decomposition yet",
    "SciPy: spatial.distance.euclidean": "converts a traced array to a NumPy array (C code)",
    "SciPy: spatial.distance.cosine": _FLOAT,
    "SciPy: spatial.distance.correlation": _FLOAT,
    "SciPy: stats.hmean": _ROWS,
    "scikit-learn: manhattan_distances": "converts a traced array to a NumPy array (Cython distance code)",
    "scikit-learn: laplacian_kernel": "converts a traced array to a NumPy array (Cython distance code)",
    "scikit-learn: mean_squared_error": _FLOAT,
    "scikit-learn: r2_score": _FLOAT,
    "scikit-learn: extmath.squared_norm": "ravel(order='K') of a 2-d array follows the memory layout",
    "scikit-learn: nn inplace_relu": "mutates its argument (jitted functions never do: refused)",
    "NumPy: i0": "boolean-mask indexing inside np.piecewise",
    "NumPy: unwrap": "np.copyto is not translated",
    "NumPy: median": _SORT + " (np.partition)",
    "NumPy: percentile": _SORT + " (np.partition)",
    "NumPy: interp": "np.interp (a C search) is not translated",
    "NumPy: convolve": "np.convolve / np.correlate (C) are not translated",
    "NumPy: correlate": "np.convolve / np.correlate (C) are not translated",
    "NumPy: nanmax": "np.nanmax/np.nanmin refused (all-NaN slices warn in NumPy)",
    "NumPy: sort": _SORT,
    "NumPy: argsort": _SORT,
    "NumPy: searchsorted": _SORT,
    "NumPy: histogram": "np.linspace with traced endpoints (the bin edges from the data's range)",
    "NumPy: bincount": _DYNAMIC + " (the number of bins is the largest value + 1)",
    "NumPy: unique": _DYNAMIC,
    "NumPy: linalg.solve": _LAPACK,
    "NumPy: linalg.inv": _LAPACK,
    "NumPy: linalg.det": _LAPACK,
}


def _param(case: Case) -> object:
    marks = [pytest.mark.skipif(not available(case), reason=f"{case.package} is not installed (realcode extra)")]
    if case.name in EXPECTED_FAILURES:
        marks.append(pytest.mark.xfail(strict=True, raises=Exception, reason=EXPECTED_FAILURES[case.name]))
    return pytest.param(case, id=case.name, marks=marks)


def test_expected_failures_name_real_cases() -> None:
    assert set(EXPECTED_FAILURES) <= {c.name for c in CASES}


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case) -> None:
    run_case(case)


def pass_share() -> tuple[int, int]:
    """(passing, total) over the corpus as listed: what the README reports."""
    return len(CASES) - len(EXPECTED_FAILURES), len(CASES)
