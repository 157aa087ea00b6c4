"""The pass manager: runs the pipeline to a fixed point, verifies, records statistics, dumps.

    constant_folding -> algebraic -> [fast_math] -> [affine_folding] -> layout -> cse -> dce

repeated until one round rewrites nothing (at most ``max_iterations`` rounds). Bracketed passes
change rounding and are opt-in; every other pass is exact (bit-identical results under the
reference evaluator). Options also come from the environment, so a user bisecting a wrong result
can switch passes off without editing code:

    FUSEJIT_DISABLE_PASSES=cse,layout   FUSEJIT_DUMP=DIR   FUSEJIT_VERIFY=1
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ..ir import Graph, VerificationError, verify
from .affine_folding import affine_folding
from .algebraic import algebraic
from .constant_folding import constant_folding
from .cse import cse
from .dce import dce
from .dump import Dumper
from .fast_math import fast_math
from .layout import layout

Pass = Callable[[Graph], "tuple[Graph, int]"]

PIPELINE: tuple[tuple[str, Pass], ...] = (
    ("constant_folding", constant_folding),
    ("algebraic", algebraic),
    ("fast_math", fast_math),
    ("affine_folding", affine_folding),
    ("layout", layout),
    ("cse", cse),
    ("dce", dce),
)
OPT_IN = frozenset({"fast_math", "affine_folding"})
ALL_PASS_NAMES = tuple(name for name, _ in PIPELINE)
PASS_NAMES = tuple(name for name in ALL_PASS_NAMES if name not in OPT_IN)


class PassError(RuntimeError):
    """A pass produced an invalid graph (a bug in that pass); the message names it."""


@dataclass
class PassStats:
    name: str
    nodes_before: int  # before the pass's first run
    nodes_after: int  # after its last run
    rewrites: int = 0
    seconds: float = 0.0
    runs: int = 0


@dataclass
class OptimizeResult:
    graph: Graph
    stats: list[PassStats] = field(default_factory=list)
    iterations: int = 0
    converged: bool = True  # False: stopped at max_iterations while passes still rewrote


def _env_disabled() -> set[str]:
    return {s.strip() for s in os.environ.get("FUSEJIT_DISABLE_PASSES", "").split(",") if s.strip()}


def optimize(graph: Graph, *, disabled: Collection[str] = (), dump_dir: str | None = None,
             verify_each: bool = False, fast_math: bool = False, fold_affine: bool = False,
             max_iterations: int = 8) -> OptimizeResult:
    """Run the pipeline on ``graph`` (left unchanged) and return the optimized graph and stats.

    ``fast_math`` enables the fast-math tier and affine folding; ``fold_affine`` only the latter.
    """
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    off = set(disabled) | _env_disabled()
    unknown = sorted(off - set(ALL_PASS_NAMES))
    if unknown:
        raise ValueError(f"unknown pass name(s) {', '.join(unknown)} in disabled passes "
                         f"(option or FUSEJIT_DISABLE_PASSES); the passes are {', '.join(ALL_PASS_NAMES)}")
    opted_in = {"fast_math", "affine_folding"} if fast_math else {"affine_folding"} if fold_affine else set()
    passes = [(n, p) for n, p in PIPELINE if n not in off and (n not in OPT_IN or n in opted_in)]
    dump_dir = dump_dir or os.environ.get("FUSEJIT_DUMP") or None
    verify_each = verify_each or os.environ.get("FUSEJIT_VERIFY", "") not in ("", "0")
    dumper = Dumper(dump_dir) if dump_dir else None
    if dumper:
        dumper.write("input", graph)
    stats = {n: PassStats(n, 0, 0) for n, _ in passes}
    result = OptimizeResult(graph, list(stats.values()), converged=False)
    for _ in range(max_iterations):
        result.iterations += 1
        changed = 0
        for name, run in passes:
            before, t0 = result.graph, time.perf_counter()
            after, rewrites = run(before)
            s = stats[name]
            s.seconds += time.perf_counter() - t0
            _check(name, before, after, verify_each)
            if not s.runs:
                s.nodes_before = len(before.nodes)
            s.runs, s.rewrites, s.nodes_after = s.runs + 1, s.rewrites + rewrites, len(after.nodes)
            if dumper:
                dumper.write(name, after)
            result.graph, changed = after, changed + rewrites
        if not changed:
            result.converged = True
            break
    if dumper:
        dumper.finish(result.graph, format_stats(result.stats))
    return result


def _check(name: str, before: Graph, after: Graph, full: bool) -> None:
    """Outputs keep their number and types (always); the whole graph verifies (if ``full``)."""
    got, want = [o.type for o in after.outputs], [o.type for o in before.outputs]
    if got != want or after.inputs != before.inputs:
        raise PassError(f"pass {name!r} changed the graph's signature: outputs {want} became {got}")
    if full:
        try:
            verify(after)
        except VerificationError as exc:
            raise PassError(f"pass {name!r} produced an invalid graph: {exc}") from exc


def format_stats(stats: list[PassStats]) -> str:
    """The per-pass table the CLI prints."""
    rows = [("pass", "runs", "nodes before", "nodes after", "rewrites", "time ms")]
    rows += [(s.name, str(s.runs), str(s.nodes_before), str(s.nodes_after), str(s.rewrites),
              f"{s.seconds * 1e3:.2f}") for s in stats]
    if stats:
        rows.append(("total", str(sum(s.runs for s in stats)), str(stats[0].nodes_before),
                     str(stats[-1].nodes_after), str(sum(s.rewrites for s in stats)),
                     f"{sum(s.seconds for s in stats) * 1e3:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows) + "\n"
