"""The call path of a compiled signature that reads live state or replays side effects.

A :class:`~fusejit.tracer.side_effects.LivePlan` says which paths (``self.W``, a closure's
``scale``) the program reads, which guards must hold, and which stores to replay. From it this
module source-generates three straight-line functions per signature — no walk over objects at
call time, one attribute or item load per step of a path:

* ``fetch(leaves)``: the captured arrays and the objects the replay writes to, or ``MISS`` when a
  guard fails (the driver then tries the signature's other guard sets, or retraces);
* ``call(*arrays, *state)``: the program on the arguments plus the captured arrays, then the
  write-backs of captured arrays updated in place and the stores, in program order;
* ``hot(*args)``: the whole call for positional arguments that are exactly the traced ones (the
  same static objects, by identity; arrays the program's probe accepts), or ``MISS``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .runtime.executable import MISS
from .tracer.capture import LOOKUP_ERRORS, SourceWriter
from .tracer.errors import RetraceWarning
from .tracer.side_effects import LivePlan, replay_source


class LiveCalls:
    """The generated ``fetch``, ``call`` and ``hot`` of one signature (see the module docstring)."""

    def __init__(self, plan: LivePlan, core: Callable[..., Any], probe: Callable[..., Any] | None,
                 n_arrays: int, n_outputs: int, array_positions: list[int], n_leaves: int,
                 static_leaves: dict[int, Any] | None) -> None:
        self.plan = plan
        n_cap = len(plan.captures)
        env: dict[str, Any] = {"MISS": MISS, "core": core, "probe": probe, "ERRORS": LOOKUP_ERRORS}
        roots = [f"L[{ref}]" if kind == "leaf" else f"R{i}" for i, (kind, ref) in enumerate(plan.roots)]
        for i, (kind, ref) in enumerate(plan.roots):
            if kind == "const":
                env[f"R{i}"] = ref
        # fetch: the state the program reads and the objects its stores go to
        w = SourceWriter(roots, env)
        captured = [w.path(c.path) for c in plan.captures]
        checks = [w.guard(g) for g in plan.guards]
        replay = replay_source(plan, w, str(n_outputs), [f"c{k}" for k in range(n_cap)])
        targets = [name for name in w.names.values() if name not in captured]
        fetch_body = []
        if w.lines:
            fetch_body = ["    try:", *(f"        {x}" for x in w.lines), "    except ERRORS:", "        return MISS"]
        fetch_body += [f"    if {c}:\n        return MISS" for c in checks]
        # the probe of the hot path checks the arrays itself; the general path must, to pick a guard set
        env["ndarray"] = np.ndarray
        arrays_ok = []
        for k, (name, cap) in enumerate(zip(captured, plan.captures)):
            env[f"t{k}"] = (cap.node.shape, cap.array.dtype)  # as captured: a '>f4' array stays one
            arrays_ok.append(f"    if type({name}) is not ndarray or ({name}.shape, {name}.dtype) != t{k}:\n"
                             "        return MISS")
        state = captured + targets
        lines = ["def fetch(L):", *fetch_body, *arrays_ok, f"    return ({''.join(s + ', ' for s in state)})"]
        # call: the program, then the write-backs and stores
        cap_names = [f"c{k}" for k in range(n_cap)]
        params = [f"x{i}" for i in range(n_arrays)] + cap_names + targets
        lines += [f"def call({', '.join(params)}):",
                  f"    result, r = core({''.join(x + ', ' for x in params[:n_arrays + n_cap])})"]
        replay_lines = _rename(replay, captured, cap_names)
        lines += [f"    {line}" for line in replay_lines] + ["    return result"]
        # hot: everything, for positional calls of the traced leaves
        if probe is not None and static_leaves is not None:
            args = [f"a{i}" for i in range(n_leaves)]
            hot = ["def hot(*args):", f"    if len(args) != {n_leaves}:", "        return MISS"]
            if n_leaves:
                hot.append(f"    {''.join(a + ', ' for a in args)}= args")
            for i, value in static_leaves.items():
                env[f"S{i}"] = value
                hot += [f"    if a{i} is not S{i}:", "        return MISS"]
            hot += ["    L = args"] + _rename(fetch_body, captured, cap_names)
            arrays = [f"a{i}" for i in array_positions] + cap_names
            hot += [f"    r = probe({''.join(a + ', ' for a in arrays)})", "    if r is MISS:", "        return r",
                    "    result, r = r"] + [f"    {line}" for line in replay_lines] + ["    return result"]
            lines += hot
        source = "\n".join(lines)
        exec(source, env)  # noqa: S102 - generated from the trace's own plan
        self.source = source
        self.fetch: Callable[[list[Any]], Any] = env["fetch"]
        self.call: Callable[..., Any] = env["call"]
        self.hot: Callable[..., Any] | None = env.get("hot")


def _rename(lines: list[str], old: list[str], new: list[str]) -> list[str]:
    """The same code with the captured arrays' path locals renamed (fetch names them by path)."""
    table = dict(zip(old, new))
    if not table:
        return list(lines)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, old)) + r")\b")
    return [pattern.sub(lambda m: table[m.group(1)], line) for line in lines]


WARN_AT = 8  # guard sets of one signature before a RetraceWarning
MAX_GUARD_SETS = 32  # kept per signature; the oldest program is dropped (and compiled again if its state returns)


def add_guard_set(fn_name: str, entries: list[Any], entry: Any) -> None:
    """Keep one more program for a signature whose live state changed; warn when that keeps
    happening (naming what changed) and bound how many are kept."""
    entries.append(entry)
    if len(entries) == WARN_AT:
        changed = _changed(entries[-2], entries[-1]) or ["state the programs were specialized on"]
        warnings.warn(RetraceWarning(
            f"{fn_name} was traced and compiled {WARN_AT} times for the same argument types because live state it "
            f"depends on keeps changing: {', '.join(changed)}. Each call with a new value compiles a new program. "
            "Keep values that change at every call in arrays (or fusejit.Variable) instead of Python scalars, or "
            "pass them as array arguments."), stacklevel=4)
    if len(entries) > MAX_GUARD_SETS:
        del entries[0]


def _changed(old: Any, new: Any) -> list[str]:
    """Values guarded by both programs that differ (``self.t: 6 -> 7``)."""
    if old.live is None or new.live is None:
        return []
    before = {(g[0], g[1]): g[2:] for g in old.live.plan.guards}
    out = []
    for g in new.live.plan.guards:
        was = before.get((g[0], g[1]))
        if was is not None and was != tuple(g[2:]) and g[1] in ("eq", "len", "bool", "keys", "contains"):
            what = new.live.plan.session.describe(g[0])
            out.append(f"{what}: {was[-1]!r} -> {g[-1]!r}" if g[1] == "eq" else f"{what} ({g[1]})")
    return out[:5]
