"""ONNX's own backend node tests (``collect_testcases(None)``, built in memory) run through
``fusejit.onnx.backend``, with the checks ONNX's runner makes: output count, dtype, shape, and
values within each case's ``rtol``/``atol``.

    python -m tests.onnx.suite            # pass count and failures grouped by reason
    python -m tests.onnx.suite --write    # rewrite tests/onnx/expected_failures.txt from this run
"""

from __future__ import annotations

import collections
import functools
import sys
import warnings
from pathlib import Path

import numpy as np

EXPECTED = Path(__file__).with_name("expected_failures.txt")


@functools.cache
def cases() -> dict:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return {c.name: c for c in collect_testcases(None)}


def run_case(case) -> str | None:
    """None if the case passes, else a one-line reason."""
    from fusejit.onnx import backend

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = backend.prepare(case.model)
            for inputs, outputs in case.data_sets:
                got = rep.run(inputs)
                if len(got) != len(outputs):
                    return f"{len(got)} outputs, expected {len(outputs)}"
                for g, w in zip(got, outputs):
                    w = np.asarray(w)
                    if g.dtype != w.dtype:
                        return f"dtype {g.dtype}, expected {w.dtype}"
                    if g.shape != w.shape:
                        return f"shape {g.shape}, expected {w.shape}"
                    np.testing.assert_allclose(g, w, rtol=case.rtol, atol=case.atol)
    except AssertionError:
        return "values differ beyond the case's rtol/atol"
    except Exception as exc:  # noqa: BLE001 - every failure is a reason to record
        first = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {first.replace('model: ', '')[:160]}"
    return None


def expected_failures() -> dict[str, str]:
    out = {}
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("  ")
            out[name.strip()] = reason.strip()
    return out


def main() -> None:
    results = {name: run_case(c) for name, c in cases().items()}
    failed = {n: r for n, r in results.items() if r is not None}
    print(f"passed {len(results) - len(failed)} of {len(results)}")
    for reason, k in collections.Counter(failed.values()).most_common():
        print(f"{k:5d}  {reason}")
    if "--write" in sys.argv:
        lines = ["# ONNX node tests fusejit is expected to fail, with the reason",
                 "# (regenerate: python -m tests.onnx.suite --write). A listed case that passes fails the test.", ""]
        lines += [f"{n}  {r}" for n, r in sorted(failed.items())]
        EXPECTED.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
