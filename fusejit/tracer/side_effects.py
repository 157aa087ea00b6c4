"""Side effects of a traced function, replayed after every call of the compiled program.

Plain NumPy code leaves traces on the objects it reaches: ``self.X = X`` (a layer keeps its input
for ``backward``), ``self.cache["Z"] = Z``, ``self.history.append(h)``, ``self.W -= lr * dW``.
The trace logs them in program order (:mod:`.capture`, :mod:`.shadows`); :func:`finish` turns
the log into a :class:`LivePlan`: every traced array stored somewhere becomes an extra output of
the graph, every store a line of Python that the call runs after the program, with the concrete
results — so after each call the objects are exactly as NumPy would leave them (a stored value
that is one captured array stays that very array; new dicts, lists and tuples are built anew per
call, as the program would build them).

Refused at trace time (:class:`.errors.SideEffectError`), because they would happen once instead
of at every call: ``print``, ``open`` and ``input`` inside the traced function, and storing an
object of a user class created inside it. Mutating a NumPy array that is neither an argument nor
captured state is already an error of the tracer (a traced value cannot enter a NumPy array).
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Node
from .array import TracedArray
from .capture import SCALARS, Session, SourceWriter, trackable
from .context import current
from .errors import SideEffectError
from .shadows import ModuleProxy, RecordingDict, RecordingList
from .variables import Variable


@dataclass
class LivePlan:
    """What one compiled signature reads and writes besides its arguments (see the module doc)."""

    session: Session
    writebacks: list[tuple[int, int]] = field(default_factory=list)  # (capture index, side output index)
    effects: list[tuple] = field(default_factory=list)  # (op, target path, key or None, template or None)
    outputs: list[Node] = field(default_factory=list)  # the side outputs, after the function's own

    @property
    def captures(self) -> list[Any]:
        return self.session.captures

    @property
    def guards(self) -> list[tuple]:
        return list(self.session.guards.values())

    @property
    def roots(self) -> list[tuple[str, Any]]:
        return self.session.roots

    @property
    def empty(self) -> bool:
        return not (self.session.captures or self.session.guards or self.outputs or self.effects)


def finish(session: Session, returned: dict[int, int] | None = None) -> LivePlan:
    """The plan of a trace that ended normally (before :meth:`Session.restore`); ``returned`` maps
    the id of each traced array the function returns to its output (storing one stores that very
    result, as NumPy would: ``self.y is y``)."""
    plan = LivePlan(session)
    late = session.check_untracked_stores()
    out_index: dict[int, int] = {}
    for k, cap in enumerate(session.captures):
        node = cap.tracer.node  # an InPlaceError if a view of it was updated and not written back
        if node is not cap.node:
            _check_alias(session, k)
            out_index[id(cap.tracer)] = len(plan.outputs)
            plan.writebacks.append((k, len(plan.outputs)))
            plan.outputs.append(node)
    m = _Materializer(session, plan, out_index, returned or {})
    for op, target, *args in session.effects + late:
        where = target if op == "store" else session.path_of(target)
        key = args[0] if op in _KEYED else None
        value = m.template(args[-1], session.describe(where)) if "{v}" in _REPLAY[op] else None
        plan.effects.append((op, where, key, value))
    return plan


# each replayed store as Python: {t} the target object, {k} the key/name/index, {v} the value
_REPLAY = {"setattr": "setattr({t}, {k}, {v})", "delattr": "delattr({t}, {k})", "setitem": "{t}[{k}] = {v}",
           "delitem": "del {t}[{k}]", "pop": "{t}.pop({k})", "clear": "{t}.clear()", "append": "{t}.append({v})",
           "insert": "{t}.insert({k}, {v})", "store": "{t} = {v}"}
_KEYED = {"setattr", "delattr", "setitem", "delitem", "pop", "insert"}


def _check_alias(session: Session, k: int) -> None:
    cap = session.captures[k]
    for j, other in enumerate(session.captures):
        if j != k and np.may_share_memory(cap.array, other.array):
            raise SideEffectError(
                f"{session.fn_name} updates {session.describe(cap.path)} in place, and "
                f"{session.describe(other.path)} shares memory with it (a view); fusejit writes the update back "
                "after the call and cannot keep the view in step within the program. Update through one name only, "
                "or copy the view.")


class _Materializer:
    """Stored values as templates: ("out", i) | ("result", i) | ("capture", k) | ("tracked", path) | ("const", v) |
    ("copy", array) | ("dict"/"list"/"tuple", id, type, items) — containers built anew per call."""

    def __init__(self, session: Session, plan: LivePlan, out_index: dict[int, int], returned: dict[int, int]) -> None:
        self.session, self.plan, self.out_index, self.returned = session, plan, out_index, returned
        self.shown = {id(shown): path for path, shown in session.tracked.values()}
        self.memo: dict[int, tuple] = {}

    def template(self, value: Any, where: str) -> tuple:
        if isinstance(value, TracedArray):
            k = self.session.capture_of(value)
            if k is not None:  # the captured array itself (updated in place or not): the same object
                return ("capture", k)
            if id(value) in self.returned:
                return ("result", self.returned[id(value)])
            i = self.out_index.get(id(value))
            if i is None:
                i = self.out_index[id(value)] = len(self.plan.outputs)
                self.plan.outputs.append(value.node)
            return ("out", i)
        replay_as = getattr(type(value), "__fusejit_replay__", None)  # a stand-in (a random generator's proxy)
        if replay_as is not None:
            return ("const", replay_as(value, self.session.fn_name, where))
        path = self.shown.get(id(value))
        if path is not None:
            return ("tracked", path)
        if isinstance(value, (RecordingDict, RecordingList, ModuleProxy)):
            return ("tracked", value._path)
        if isinstance(value, SCALARS) or isinstance(value, Variable) or callable(value) and not trackable(value):
            return ("const", value)
        if isinstance(value, np.ndarray):
            return ("copy", value.copy())  # made by the program from constants: a fresh copy per call
        if isinstance(value, (dict, list, tuple)):
            seen = self.memo.get(id(value))
            if seen is not None:
                return seen
            if isinstance(value, dict):
                items = tuple((self._key(k, where), self.template(v, f"{where}[{k!r}]")) for k, v in value.items())
            else:
                items = tuple(self.template(v, f"{where}[{i}]") for i, v in enumerate(value))
            kind = "dict" if isinstance(value, dict) else "list" if isinstance(value, list) else "tuple"
            t = self.memo[id(value)] = (kind, len(self.memo), type(value), items)
            return t
        if not trackable(value):
            return ("const", value)  # a library object (a Generator, a module's object): the same one each call
        raise SideEffectError(
            f"{self.session.fn_name} stores a {type(value).__name__} object created inside the traced function in "
            f"{where}; fusejit replays stores of arrays, scalars, strings and dicts/lists/tuples of them after each "
            "call, not the construction of other objects. Create the object outside the jitted function and "
            "assign its attributes inside, or store a dict.")

    def _key(self, key: Any, where: str) -> Any:
        if isinstance(key, SCALARS) or isinstance(key, tuple):
            return key
        raise SideEffectError(f"{self.session.fn_name} stores a dict with a {type(key).__name__} key in {where}; "
                              "replayed dicts may have scalar, string or tuple keys")


# ---- replay as Python source ----------------------------------------------------------------------


def replay_source(plan: LivePlan, w: SourceWriter, out: str, captured: list[str]) -> list[str]:
    """Lines that write the captured buffers updated in place, then replay the stores in program
    order; ``out`` is the expression of the first side output in the result list ``r``."""
    lines = [f"copyto({captured[k]}, r[{out} + {i}])" for k, i in plan.writebacks]
    w.env.setdefault("copyto", np.copyto)
    built: dict[int, str] = {}

    def expr(t: tuple) -> str:
        kind = t[0]
        if kind == "out":
            return f"r[{out} + {t[1]}]"
        if kind == "result":
            return f"r[{t[1]}]"
        if kind == "capture":
            return captured[t[1]]
        if kind == "tracked":
            return w.path(t[1])
        if kind == "const":
            return w.const(t[1])
        if kind == "copy":
            return f"{w.const(t[1])}.copy()"
        name = built.get(t[1])
        if name is not None:
            return name
        _, ident, typ, items = t
        if kind == "dict":
            body = "{" + "".join(f"{w.const(k)}: {expr(v)}, " for k, v in items) + "}"
            body = body if typ is dict else f"{w.const(typ)}({body})"
        else:
            body = "".join(expr(v) + ", " for v in items)
            if typ is list or typ is tuple:
                body = f"[{body}]" if typ is list else f"({body})"
            else:
                body = f"{w.const(typ)}{'._make' if hasattr(typ, '_make') else ''}(({body}))"
        name = built[t[1]] = f"n{t[1]}"
        lines.append(f"{name} = {body}")
        return name

    for op, where, key, value in plan.effects:
        if op == "store":  # a closure cell or a global rebound: the target is the slot itself
            parent, step = w.path(where[:-1]), where[-1]
            target = f"{parent}.cell_contents" if step[0] == "cell" else f"{parent}[{w.const(step[1])}]"
        else:
            target = w.path(where)
        lines.append(_REPLAY[op].format(t=target, k=w.const(key) if op in _KEYED else "",
                                        v=expr(value) if value is not None else ""))
    return lines


# ---- I/O during a trace ----------------------------------------------------------------------------

_io_lock = threading.Lock()
_io_depth = 0
_originals: dict[str, Any] = {}


def _refusing(name: str) -> Any:
    original = _originals[name]

    def call(*args: Any, **kwargs: Any) -> Any:
        ctx = current()
        if ctx is not None and ctx.live is not None:
            raise SideEffectError(
                f"{name}() inside the traced function {ctx.fn_name}: it would run once, while tracing, not at "
                f"every call of the compiled program. Call {name}() outside the jitted function (on its results).")
        return original(*args, **kwargs)
    return call


class refuse_io:
    """``with refuse_io():`` — ``print``, ``open`` and ``input`` raise in the tracing thread (other
    threads are unaffected: the replacement checks the thread's trace context)."""

    NAMES = ("print", "open", "input")

    def __enter__(self) -> None:
        global _io_depth
        with _io_lock:
            if _io_depth == 0:
                for name in self.NAMES:
                    _originals[name] = getattr(builtins, name)
                    setattr(builtins, name, _refusing(name))
            _io_depth += 1

    def __exit__(self, *exc: object) -> None:
        global _io_depth
        with _io_lock:
            _io_depth -= 1
            if _io_depth == 0:
                for name in self.NAMES:
                    setattr(builtins, name, _originals.pop(name))
