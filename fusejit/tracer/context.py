"""The trace being recorded: which function, and its extra inputs (variables read by reference)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

_state = threading.local()


@dataclass
class TraceContext:
    fn_name: str
    # fusejit.Variable reads: id(variable) -> (variable, its current traced value); each variable read
    # becomes one extra graph input (``reads``), in first-read order (``captured_order``)
    variables: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    reads: dict[int, Any] = field(default_factory=dict)
    captured_order: list[Any] = field(default_factory=list)
    # variables assigned during the trace, in first-assignment order
    updates: dict[int, Any] = field(default_factory=dict)
    # called with each variable when it is first read (a GradientTape watches variables read inside it)
    on_first_read: list[Any] = field(default_factory=list)
    # live state (objects, closures, globals) of this trace: a capture.Session, or None
    live: Any = None
    done: bool = False  # the trace has ended: its traced arrays must not be used any more
    # the arguments of the call being traced (id(input node) -> array), when known: branches on the data
    # follow them and become guards (:mod:`.speculation`); their values computed so far; the guards
    examples: dict[int, Any] | None = None
    example_values: dict[int, Any] = field(default_factory=dict)
    guards: list[Any] = field(default_factory=list)


def current() -> TraceContext | None:
    return getattr(_state, "ctx", None)


class tracing:
    """``with tracing(ctx):`` marks the dynamic extent of one trace (re-entrant per thread)."""

    def __init__(self, ctx: TraceContext) -> None:
        self.ctx = ctx

    def __enter__(self) -> TraceContext:
        self.prev = current()
        _state.ctx = self.ctx
        return self.ctx

    def __exit__(self, *exc: object) -> None:
        _state.ctx = self.prev
