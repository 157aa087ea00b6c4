"""Helpers for the pass tests: golden IR-text checks and bit-for-bit comparison under the evaluator."""

from __future__ import annotations

from collections.abc import Callable
from textwrap import dedent

import numpy as np

from fusejit.ir import Graph, parse, print_graph, verify

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e-40, 3e38, 7.5, -1e-3]


def ir(text: str) -> Graph:
    return parse(dedent(text))


def normalized(text: str) -> str:
    return print_graph(ir(text))


def sample_args(graph: Graph, seed: int = 0, symbol_size: int = 3) -> list[np.ndarray]:
    """Arguments for ``graph`` mixing random values with NaN, ±inf, ±0.0 (and int extremes)."""
    rng = np.random.default_rng(seed)
    args = []
    for node in graph.inputs:
        shape = tuple(symbol_size if isinstance(d, str) else d for d in node.shape)
        dt = node.dtype
        if dt.kind == "f":
            with np.errstate(over="ignore"):
                vals = np.concatenate([np.array(SPECIALS * 4), rng.standard_normal(48) * 4,
                                       rng.uniform(0, 2, 16) * 10.0 ** rng.integers(-9, 9, 16)]).astype(dt)
        elif dt.kind == "b":
            vals = np.array([True, False])
        else:
            info = np.iinfo(dt)
            vals = np.concatenate([[info.min, info.max, 0, 1, -1 if info.min else 2],
                                   rng.integers(max(info.min, -100), min(info.max, 100), 16)]).astype(dt)
        args.append(rng.choice(vals, size=shape))
    return args


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal dtype, shape and bits; any NaN equals any NaN (payload aside)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    uint = np.dtype(f"u{a.dtype.itemsize}")
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(((a.view(uint) == b.view(uint)) | both_nan).all())


def assert_same_bits(before: Graph, after: Graph, seeds: tuple[int, ...] = (0, 1)) -> None:
    for seed in seeds:
        args = sample_args(before, seed)
        for i, (x, y) in enumerate(zip(before.evaluate(*args), after.evaluate(*args))):
            assert same_bits(x, y), f"output {i} differs (seed {seed}):\n{x!r}\n{y!r}\n{print_graph(after)}"


def check(run: Callable[[Graph], tuple[Graph, int]], src: str, expected: str, exact: bool = True) -> int:
    """Run a pass on IR text; compare to the expected IR text; the input graph is left untouched,
    the result verifies and (for exact passes) evaluates bit-identically. Returns the rewrite count."""
    graph = ir(src)
    text_before = print_graph(graph)
    out, count = run(graph)
    got, want = print_graph(out), normalized(expected)
    assert got == want, f"got:\n{got}\nexpected:\n{want}"
    assert print_graph(graph) == text_before
    verify(out)
    if exact:
        assert_same_bits(graph, out)
    return count


def unchanged(run: Callable[[Graph], tuple[Graph, int]], src: str) -> None:
    graph = ir(src)
    out, count = run(graph)
    assert count == 0 and print_graph(out) == print_graph(graph)
