"""Random IR graphs (the CPU backend's differential strategy) compiled ahead of time and called through
the C API, against the reference evaluator: exercises scratch slots, strides, symbols, outputs."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fusejit.aot
from fusejit.aot import AotCallError
from tests.codegen.test_cpu_differential import check_program, programs

from .conftest import needs_toolchain


@needs_toolchain
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prog=programs(), seed=st.integers(0, 1000), strided=st.booleans())
def test_random_graphs_match_the_reference_evaluator(tmp_path: Path, prog, seed: int, strided: bool) -> None:
    def run(g, args):
        return fusejit.aot.load(fusejit.aot.compile(g, tmp_path / f"s{seed}", "rand"))(*args)

    check_program(prog, seed, strided, run, AotCallError)
