"""Live state: what a traced function reads through objects, closure cells and globals.

A jitted function sees state it was not passed: ``self.W``, a closure's ``scale``, a global
``TABLE``. NumPy reads that state at each call, so the compiled program must too. While tracing,
a :class:`Session` stands between the function and that state:

* **roots** are where state enters: static arguments (``self``), the function's closure cells,
  default argument values and the globals its code names — also those of the helper functions and
  methods it calls (library wrappers such as ``grad(f)`` are followed through the user functions
  and objects their cells hold), the public data attributes of user classes it names, and the
  attributes of the user's own modules (:class:`.shadows.ModuleProxy`);
* an **object** reached from a root has its class swapped for the trace to a recording subclass
  whose ``__getattribute__``/``__setattr__`` report reads and stores (``isinstance`` still holds;
  plain attribute stores stay in an overlay, off the object); a **dict** or **list** is shown as
  a recording shadow (:mod:`.shadows`);
* each array read becomes a **captured input** of the graph, fetched at every call through the
  path it was read by (``self.cache['v']``) — in-place changes are seen because the buffer itself
  is passed; a Python scalar, str, tuple, the presence of a key or attribute, a list's length, the
  identity of any other object read becomes a **guard**: when it no longer holds, the call
  retraces (one compiled program per guard set);
* stores are logged in program order and replayed after each call (:mod:`.side_effects`); an
  in-place update of a captured array (``self.W -= lr * dW``) is a functional update written
  back into the captured buffer, like a ``fusejit.Variable``.

When the trace ends — normally or by an exception — every object is restored: classes, instance
dicts, closure cells, defaults, class attributes and globals are exactly as before (the first
call's replay then performs the program's effects with concrete arrays). ``jit(...,
constants=[...])`` opts objects out: their arrays and scalars are read once and folded in (their
stores are still replayed).

Paths are tuples ``(root, *steps)`` with steps ``("attr", name)``, ``("item", key)`` or
``("cell",)``; :class:`SourceWriter` turns the paths and guards a trace recorded into
straight-line Python that reads them at call time (one attribute or item load per step, shared
prefixes once; :mod:`fusejit.live_calls` assembles the call).
"""

from __future__ import annotations

import dis
import enum
import functools
import os
import sysconfig
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import Node
from ..ir.dtypes import as_dtype
from ..ir.shapes import TensorType
from .array import TracedArray
from .context import current
from .errors import SideEffectError
from .shadows import AttributeView, ModuleProxy, RecordingDict, RecordingList
from .variables import Variable

Path = tuple
SCALARS = (bool, int, float, complex, str, bytes, type(None), np.generic, enum.Enum)
_FOREIGN = {"numpy", "fusejit", "builtins", "logging", "threading", "abc", "functools", "collections", "typing",
            "re", "io", "_io", "enum", "random", "scipy", "llvmlite", "numba", "weakref", "ctypes"}
_NOT_STATE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
              functools.partial, property, Variable, TracedArray)
_MISSING = object()
_SUBCLASSES: dict[type, type] = {}


@dataclass
class Capture:
    """One captured array: read through ``path``, a graph input ``node`` seen as ``tracer``."""

    path: Path
    ref: weakref.ref  # the buffer at trace time (what freezing folds in), not kept alive by the program
    tracer: TracedArray
    node: Node

    @property
    def array(self) -> np.ndarray:
        arr = self.ref()
        if arr is None:
            raise ValueError(f"the array captured as {self.node.name} no longer exists")
        return arr


@dataclass
class Swapped:
    obj: Any
    cls: type
    snapshot: dict  # the instance dict before the trace
    eager: bool  # the class could not be swapped: attributes were wrapped in place instead
    keys: tuple = ()  # the instance dict's keys before the trace (what ``vars(obj)`` is guarded on)


@dataclass
class Session:
    """The live state of one trace (see the module docstring)."""

    fn_name: str
    # ids of objects the user declared constant (and of objects reached through them): their arrays and
    # scalars are read once and folded in, without captures or guards; stores to them are still replayed
    frozen: set[int] = field(default_factory=set)
    frozen_all: bool = False  # jit(..., constants=True): all state is read once
    roots: list[tuple[str, Any]] = field(default_factory=list)  # ("leaf", index) | ("const", object)
    root_names: list[str] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)
    guards: dict[tuple, tuple] = field(default_factory=dict)  # insertion-ordered, deduplicated
    effects: list[tuple] = field(default_factory=list)  # (op, target, *args) in program order
    tracked: dict[int, tuple[Path, Any]] = field(default_factory=dict)  # id(original) -> (path, what the fn sees)
    keep: list[Any] = field(default_factory=list)  # originals kept alive while their ids are keys
    swapped: list[Swapped] = field(default_factory=list)
    # ("slot", path, cell or globals dict, shown) | ("eager", path, object, its dict as shown)
    rebindable: list[tuple[str, Path, Any, Any]] = field(default_factory=list)
    undo: list[Any] = field(default_factory=list)
    written: set[tuple[int, str]] = field(default_factory=set)
    quiet: int = 0  # > 0 inside a logged store (a property setter's own stores are part of it)
    entered: set[int] = field(default_factory=set)  # ids of the functions whose cells and globals are installed
    # per swapped object (with a plain instance dict): the attributes this trace stored, kept here
    # rather than on the object, so another thread using it meanwhile sees it unchanged
    overlay: dict[int, dict[str, Any]] = field(default_factory=dict)

    # ---- roots ------------------------------------------------------------------------------

    def add_root(self, kind: str, ref: Any, name: str) -> Path:
        if kind == "const":  # a globals dict or a cell two functions share: one root
            for i, (k, r) in enumerate(self.roots):
                if k == "const" and r is ref:
                    return (i,)
        self.roots.append((kind, ref))
        self.root_names.append(name)
        return (len(self.roots) - 1,)

    def enter(self, fn: Any, leaf_values: list[tuple[int, str, Any]]) -> None:
        """Install the session on the static arguments and on what ``fn`` names."""
        for index, name, value in leaf_values:
            if trackable(value):
                self.wrap(value, self.add_root("leaf", index, name))
        if isinstance(fn, types.MethodType):
            if trackable(fn.__self__):
                self.wrap(fn.__self__, self.add_root("const", fn.__self__, "self"))
            fn = fn.__func__
        if isinstance(fn, types.FunctionType):
            self._enter_function(fn, depth=0, seen=self.entered)

    def _enter_function(self, fn: types.FunctionType, depth: int, seen: set[int]) -> None:
        """Install the session on ``fn``'s closure cells and on the globals it names. A library's
        function (fusejit's own wrappers: ``grad(f)``, ``vjp``) is followed only through the user
        functions, methods and objects its cells hold; its module's globals are not state."""
        if id(fn) in seen:
            return
        seen.add(id(fn))
        foreign = _foreign(fn)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # not yet bound
                continue
            if foreign and not (isinstance(value, (types.FunctionType, types.MethodType)) or trackable(value)):
                continue
            path = self.add_root("const", cell, name) + (("cell",),)
            self._install(path, cell, value, depth, seen)
        if foreign:
            return
        self._enter_defaults(fn)
        names = _global_names(fn.__code__)
        if names:
            g = fn.__globals__
            root = None
            for name in names:
                value = g.get(name, _MISSING)
                if value is _MISSING or isinstance(value, types.ModuleType) and not _user_module(value):
                    continue
                if root is None:
                    root = self.add_root("const", g, "")  # a global is named by its own name
                self._install(root + (("item", name),), g, value, depth, seen)

    def _enter_defaults(self, fn: types.FunctionType) -> None:
        """Default argument values (``def f(x, w=W)``) are state too: shown wrapped, restored after."""
        root = None
        for attr in ("__defaults__", "__kwdefaults__"):
            values = getattr(fn, attr)
            if not values:
                continue
            root = root or self.add_root("const", fn, fn.__name__)
            items = values.items() if isinstance(values, dict) else enumerate(values)
            original = dict(items)
            shown = {k: self.wrap(v, root + (("attr", attr), ("item", k))) for k, v in original.items()}
            if any(shown[k] is not v for k, v in original.items()):
                setattr(fn, attr, shown if isinstance(values, dict) else tuple(shown.values()))
                self.undo.append(functools.partial(setattr, fn, attr, values))

    def _enter_class(self, cls: type, path: Path) -> None:
        """A user class named by the function: its public data attributes (not methods, properties
        or ``_private`` names) are shown wrapped, set on the class for the trace and restored after."""
        for klass in cls.__mro__[:-1]:
            if id(klass) in self.entered:
                continue
            self.entered.add(id(klass))
            for name, attr in list(vars(klass).items()):
                if name.startswith("_") or hasattr(type(attr), "__get__") or isinstance(attr, type):
                    continue
                shown = self.wrap(attr, path + (("attr", name),))
                if shown is not attr:
                    type.__setattr__(klass, name, shown)
                    self.undo.append(functools.partial(type.__setattr__, klass, name, attr))

    def _install(self, path: Path, holder: Any, value: Any, depth: int, seen: set[int]) -> None:
        """A closure cell's or global's value as the function sees it, put in place until the end."""
        if any(entry[1] == path for entry in self.rebindable):
            return  # installed already, for another function sharing the cell or the module
        if isinstance(value, types.ModuleType):  # a user module: its attributes are live state
            self.guard(path, "is", value)
            proxy = ModuleProxy(self, path, value)
            self._track(value, path, proxy)
            _store(holder, path[-1], proxy)
            self.undo.append(functools.partial(_store, holder, path[-1], value))
            self.rebindable.append(("slot", path, holder, proxy))
            return
        if _user_class(value):  # `Layer.EPS`, `Config.TABLE`: its public data attributes are state
            self.guard(path, "is", value)
            self._enter_class(value, path)
            return
        if isinstance(value, types.FunctionType) and (depth < 2 or _foreign(value)):
            self.guard(path, "eq", value)  # a helper function rebound: its own state is another
            self._enter_function(value, depth + (0 if _foreign(value) else 1), seen)
            return
        shown = self.wrap(value, path)
        if shown is not value:
            _store(holder, path[-1], shown)
            self.undo.append(functools.partial(_store, holder, path[-1], value))
        self.rebindable.append(("slot", path, holder, shown))

    # ---- what the function sees -----------------------------------------------------------------

    def wrap(self, value: Any, path: Path, frozen: bool = False) -> Any:
        """``value``, read through ``path``, as the traced function should see it; ``frozen``: read
        through an object the user declared constant."""
        frozen = frozen or self.frozen_all or id(value) in self.frozen
        if isinstance(value, SCALARS):
            if not frozen:
                self.guard(path, "eq", value)
            return value
        if _random_source(value):  # a NumPy generator: draws fresh samples per call (fusejit.random)
            from ..random.numpy_api import proxy_for

            self.guard(path, "eq", value)  # rebinding it retraces: the program draws from this one
            return proxy_for(value)
        if isinstance(value, (TracedArray, RecordingDict, RecordingList)):
            return value  # shown by this trace already (installed in a cell or global, or stored)
        seen = self.tracked.get(id(value))
        if seen is not None:
            if seen[0] != path:
                self.guard(path, "alias", seen[0])
            return seen[1]
        t = type(value)
        if t is np.ndarray:
            return value if frozen else self._capture(value, path)
        if t is dict or t is list:
            self.guard(path, "type", t)
            shadow = (RecordingDict if t is dict else RecordingList)(self, path, value, frozen)
            return self._track(value, path, shadow)
        if isinstance(value, tuple):
            return self._tuple(value, path, frozen)
        if trackable(value):
            if frozen:
                self.frozen.add(id(value))
            self._swap(value, path)
            return self._track(value, path, value)
        if not frozen:  # a function, a set, a library object: the program used this very one
            self.guard(path, "eq" if isinstance(value, frozenset) else "is", value)
        if isinstance(value, types.MethodType) and trackable(value.__self__):  # `f = layer.loss`, `grad(m.loss)`
            self.wrap(value.__self__, path + (("attr", "__self__"),), frozen)
            if isinstance(value.__func__, types.FunctionType):
                self._enter_function(value.__func__, 1, self.entered)
        return value

    def _track(self, original: Any, path: Path, shown: Any) -> Any:
        self.tracked[id(original)] = (path, shown)
        self.keep.append(original)
        return shown

    def _capture(self, arr: np.ndarray, path: Path) -> Any:
        label = self.describe(path)
        try:
            dtype = as_dtype(arr.dtype, label)  # native byte order: a '>f4' array is read converted
        except TypeError:
            return arr  # an array fusejit cannot compute with (object, str): left as Python data
        from .trace import input_name

        node = Node("input", (), {}, TensorType(dtype, arr.shape), name=input_name(label))
        tracer = TracedArray(node, label=label)
        self.captures.append(Capture(path, weakref.ref(arr), tracer, node))
        return self._track(arr, path, tracer)

    def _tuple(self, value: tuple, path: Path, frozen: bool) -> Any:
        if all(isinstance(v, SCALARS) or (isinstance(v, tuple) and _scalar_tuple(v)) for v in value):
            if not frozen:
                self.guard(path, "eq", value)
            return value
        self.guard(path, "type", type(value))
        self.guard(path, "len", len(value))
        items = [self.wrap(v, path + (("item", i),), frozen) for i, v in enumerate(value)]
        if all(a is b for a, b in zip(items, value)):
            return self._track(value, path, value)
        shown = type(value)._make(items) if hasattr(type(value), "_make") else type(value)(items)
        return self._track(value, path, shown)

    def _swap(self, obj: Any, path: Path) -> None:
        cls = type(obj)
        self.guard(path, "type", cls)
        snapshot = _state_of(obj)
        try:
            sub = _recording_class(cls)
        except Exception:  # noqa: BLE001 - a metaclass or __init_subclass__ refusing a subclass
            sub = None
        if sub is not None:
            try:
                obj.__class__ = sub
                self.swapped.append(Swapped(obj, cls, snapshot, False, tuple(_instance_dict(obj))))
                if hasattr(obj, "__dict__"):
                    self.overlay[id(obj)] = {}
                return
            except TypeError:
                pass
        # a class that cannot be swapped (a C type such as SimpleNamespace): every attribute is
        # read now, and stores are found by comparing the instance dict at the end
        if not hasattr(obj, "__dict__"):
            return  # neither swappable nor a dict to walk: its state is read at trace time
        self.swapped.append(Swapped(obj, cls, snapshot, True, tuple(_instance_dict(obj))))
        self._track(obj, path, obj)
        for name, v in snapshot.items():
            shown = self.wrap(v, path + (("attr", name),), id(obj) in self.frozen)
            if shown is not v:
                obj.__dict__[name] = shown
        self.rebindable.append(("eager", path, obj, dict(obj.__dict__)))

    def on_getattr(self, obj: Any, name: str, value: Any) -> Any:
        if (id(obj), name) in self.written or self.quiet:
            return value
        if _instance_dict(obj).get(name, _MISSING) is not value and \
                not isinstance(getattr(type(obj).__mro__[1], name, None), types.MemberDescriptorType):
            if isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType):
                # a method, perhaps defined in another module: the globals it names are state too
                self._enter_function(value.__func__, depth=1, seen=self.entered)
            elif _class_data(type(obj).__mro__[1], name, value):  # `self.EPS`, `self.TABLE` set on the class
                return self.wrap(value, self.tracked[id(obj)][0] + (("attr", name),), id(obj) in self.frozen)
            return value  # a method or a property's result: its own reads are tracked
        return self.wrap(value, self.tracked[id(obj)][0] + (("attr", name),), id(obj) in self.frozen)

    def active(self) -> bool:
        """Whether the calling thread is the one tracing with this session."""
        return _session() is self

    def module_attribute(self, proxy: ModuleProxy, name: str, value: Any) -> Any:
        """``config.name`` read through a user module's proxy (see :class:`.shadows.ModuleProxy`)."""
        if isinstance(value, types.FunctionType):
            self._enter_function(value, 1, self.entered)  # `config.helper(x)`: its globals are state too
            return value
        if isinstance(value, types.ModuleType):
            return value  # a submodule: read at trace time
        return self.wrap(value, proxy._path + (("attr", name),))

    def attribute_view(self, obj: Any) -> AttributeView:
        """``vars(obj)``: every attribute read (the key order guarded), writes refused."""
        path = self.tracked[id(obj)][0]
        frozen = id(obj) in self.frozen
        keys = next(s.keys for s in self.swapped if s.obj is obj)
        self.guard(path + (("attr", "__dict__"),), "keys", keys)
        items = {k: v if (id(obj), k) in self.written else self.wrap(v, path + (("attr", k),), frozen)
                 for k, v in _instance_dict(obj).items()}
        items.update(self.overlay.get(id(obj), {}))
        return AttributeView(f"vars({self.describe(path)})", items)

    # ---- what the function depends on and does --------------------------------------------------

    def guard(self, path: Path, kind: str, *data: Any) -> None:
        try:
            key = (path, kind, *data)
            hash(key)
        except TypeError:
            key = (path, kind, *map(id, data))
        self.guards.setdefault(key, (path, kind, *data))

    def log(self, op: str, target: Any, *args: Any) -> None:
        if not self.quiet:
            self.effects.append((op, target, *args))

    def path_of(self, target: Any) -> Path:
        if isinstance(target, (RecordingDict, RecordingList, ModuleProxy)):
            return target._path
        return self.tracked[id(target)][0]

    def capture_of(self, tracer: TracedArray) -> int | None:
        for k, cap in enumerate(self.captures):
            if cap.tracer is tracer:
                return k
        return None

    def describe(self, path: Path) -> str:
        """``self.cache['v']``, ``scale``, ``TABLE``: the path as the program spelled it."""
        text = self.root_names[path[0]]
        for step in path[1:]:
            if step[0] == "attr":
                text += f".{step[1]}"
            elif step[0] == "item":
                text = step[1] if text == "" else f"{text}[{step[1]!r}]"
        return text

    # ---- the end of the trace -------------------------------------------------------------------

    def check_untracked_stores(self) -> list[tuple]:
        """Stores the recording classes did not see: rebinding a closure variable (``nonlocal``)
        or a global, and attribute stores on objects whose class could not be swapped. They are
        replayed after the logged effects. A store that bypassed ``__setattr__`` on a swapped
        object (``self.__dict__[k] = v``) cannot be ordered with the rest: it is refused."""
        late = []
        for kind, path, holder, shown in self.rebindable:
            if kind == "eager":  # an object whose class could not be swapped: compare its attributes
                now = holder.__dict__
                for k in list(shown) + [k for k in now if k not in shown]:
                    if now.get(k, _MISSING) is not shown.get(k, _MISSING):
                        late.append(("setattr", holder, k, now[k]) if k in now else ("delattr", holder, k))
                continue
            now = _load(holder, path[-1])
            if now is not shown:
                late.append(("store", path, now))
        for s in self.swapped:
            if s.eager:
                continue
            now = _state_of(s.obj)
            for k in set(now) | set(s.snapshot):
                if (id(s.obj), k) not in self.written and now.get(k, _MISSING) is not s.snapshot.get(k, _MISSING):
                    raise SideEffectError(
                        f"{self.fn_name} changed {self.describe(self.path_of(s.obj))}.{k} without going through "
                        "setattr (through __dict__ or object.__setattr__); fusejit replays attribute stores made "
                        f"with `obj.{k} = value`. Write it that way.")
        return late

    def restore(self) -> None:
        """Put every object back as it was before the trace (also after a failed trace)."""
        for s in reversed(self.swapped):
            _reset_dict(s.obj, s.snapshot)
            if not s.eager:
                object.__setattr__(s.obj, "__class__", s.cls)
        for undo in reversed(self.undo):
            undo()
        # what only the trace needed: the compiled program keeps the plan, not the objects it walked
        for part in (self.swapped, self.undo, self.tracked, self.keep, self.rebindable, self.written, self.effects,
                     self.overlay):
            part.clear()


# ---- the recording classes -----------------------------------------------------------------------


def _session() -> Session | None:
    ctx = current()
    return None if ctx is None else ctx.live


def _getattribute(self: Any, name: str) -> Any:
    session = _session()
    if session is not None:
        overlay = session.overlay.get(id(self))
        if overlay is not None and name in overlay:
            return overlay[name]  # stored by this trace: kept off the real object (other threads never see it)
    try:
        value = type(self).__mro__[1].__getattribute__(self, name)
    except AttributeError:
        if session is not None and id(self) in session.tracked and (id(self), name) not in session.written:
            session.guard(session.tracked[id(self)][0], "hasattr", name, False)  # `hasattr(self, "W")`
        raise
    if name[:2] == "__":
        if name == "__dict__" and session is not None and id(self) in session.tracked and not session.quiet:
            return session.attribute_view(self)
        return value
    return value if session is None or id(self) not in session.tracked else session.on_getattr(self, name, value)


def _store_attr(self: Any, name: str, op: str, *value: Any) -> None:
    """``setattr``/``delattr`` on a tracked object: done (the object's own ``__setattr__``, a property's
    setter), then logged — as one store: what the setter itself stores is part of it."""
    base = getattr(type(self).__mro__[1], "__setattr__" if op == "setattr" else "__delattr__")
    session = _session()
    if session is None or id(self) not in session.tracked:
        base(self, name, *value)
        return
    session.written.add((id(self), name))
    overlay = session.overlay.get(id(self))
    if op == "setattr" and overlay is not None and _plain_attribute(type(self).__mro__[1], name):
        overlay[name] = value[0]
    elif not (overlay is not None and overlay.pop(name, _MISSING) is not _MISSING and op == "delattr"
              and name not in _instance_dict(self)):  # (deleting what only this trace stored: done)
        # a property's or a custom __setattr__'s own logic, or a delete: on the object (restored after)
        session.quiet += 1
        try:
            base(self, name, *value)
        finally:
            session.quiet -= 1
    session.log(op, self, name, *value)  # after: a store that raised (a frozen dataclass) did not happen


def _setattr(self: Any, name: str, value: Any) -> None:
    _store_attr(self, name, "setattr", value)


def _delattr(self: Any, name: str) -> None:
    _store_attr(self, name, "delattr")


def _plain_attribute(cls: type, name: str) -> bool:
    """``obj.name = v`` only puts ``v`` in the instance dict: no custom ``__setattr__``, no data
    descriptor (property, slot) of that name."""
    if cls.__setattr__ is not object.__setattr__:
        return False
    attr = getattr(cls, name, None)
    return attr is None or not (hasattr(type(attr), "__set__") or hasattr(type(attr), "__delete__"))


def _class_data(cls: type, name: str, value: Any) -> bool:
    """``value`` is the plain class attribute ``name`` (no descriptor: not a method or property)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            attr = klass.__dict__[name]
            return attr is value and not hasattr(type(attr), "__get__")
    return False


def _recording_class(cls: type) -> type:
    sub = _SUBCLASSES.get(cls)
    if sub is None:
        ns = {"__slots__": (), "__getattribute__": _getattribute, "__setattr__": _setattr, "__delattr__": _delattr,
              "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        sub = _SUBCLASSES[cls] = type(cls)(cls.__name__, (cls,), ns)
    return sub


# ---- helpers ---------------------------------------------------------------------------------------


def trackable(value: Any) -> bool:
    """A user object whose attributes are state: not a module, class, function or library object."""
    if isinstance(value, _NOT_STATE) or isinstance(value, SCALARS):
        return False
    if not hasattr(value, "__dict__") and not _slot_names(type(value)):
        return False
    return (type(value).__module__ or "").split(".")[0] not in _FOREIGN


_GENERATORS = (np.random.Generator, np.random.RandomState)


def _random_source(value: Any) -> bool:
    """A NumPy ``Generator``/``RandomState``, or a bound method of one (``draw = rng.normal``)."""
    return isinstance(value, _GENERATORS) or (isinstance(value, types.MethodType)
                                              and isinstance(value.__self__, _GENERATORS))


_LIBRARY_DIRS = tuple(os.path.realpath(p) + os.sep for p in {sysconfig.get_paths()["stdlib"],
                                                             sysconfig.get_paths()["purelib"],
                                                             sysconfig.get_paths()["platlib"]})


def _user_module(module: types.ModuleType) -> bool:
    """A module of the user's own code: not the standard library, not an installed package, not
    fusejit (an editable install of a package still counts as installed through its name)."""
    if module.__name__.split(".")[0] in _FOREIGN:
        return False
    path = getattr(module, "__file__", None)
    return path is not None and not os.path.realpath(path).startswith(_LIBRARY_DIRS)


def _user_class(value: Any) -> bool:
    """A class of the user's own code with the plain metaclass (not an Enum, not an ABC registry)."""
    return type(value) is type and (value.__module__ or "").split(".")[0] not in _FOREIGN


def _foreign(fn: types.FunctionType) -> bool:
    return (fn.__module__ or "").split(".")[0] in _FOREIGN


def _scalar_tuple(value: tuple) -> bool:
    return all(isinstance(v, SCALARS) or (isinstance(v, tuple) and _scalar_tuple(v)) for v in value)


def _global_names(code: types.CodeType) -> list[str]:
    """The globals ``code`` (and the lambdas and comprehensions in it) loads or stores."""
    names: list[str] = []
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL") and ins.argval not in names:
            names.append(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += [n for n in _global_names(const) if n not in names]
    return names


def _store(holder: Any, step: tuple, value: Any) -> None:
    if step[0] == "cell":
        holder.cell_contents = value
    else:
        holder[step[1]] = value


def _load(holder: Any, step: tuple) -> Any:
    try:
        return holder.cell_contents if step[0] == "cell" else holder.get(step[1], _MISSING)
    except ValueError:
        return _MISSING


def _instance_dict(obj: Any) -> dict:
    try:
        return object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return {}


def _slot_names(cls: type) -> list[str]:
    names = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else [n for n in slots if n not in ("__dict__", "__weakref__")]
    return names


def _state_of(obj: Any) -> dict:
    """The instance dict and the set ``__slots__`` of ``obj``: what restoring puts back."""
    state = dict(_instance_dict(obj))
    for name in _slot_names(type(obj)):
        descr = getattr(type(obj), name, None)
        if isinstance(descr, types.MemberDescriptorType):
            try:
                state[name] = descr.__get__(obj)
            except AttributeError:  # an unset slot
                pass
    return state


def _reset_dict(obj: Any, snapshot: dict) -> None:
    d = _instance_dict(obj)
    slots = set(_slot_names(type(obj)))
    d.clear()
    for name in slots:
        descr = getattr(type(obj), name, None)
        if isinstance(descr, types.MemberDescriptorType):
            if name in snapshot:
                descr.__set__(obj, snapshot[name])
            else:
                try:
                    descr.__delete__(obj)
                except AttributeError:
                    pass
    d.update({k: v for k, v in snapshot.items() if k not in slots})


# ---- call time: reading the paths, checking the guards --------------------------------------------


class SourceWriter:
    """Straight-line Python for one plan: a local per path (shared prefixes computed once),
    constants in ``env``."""

    def __init__(self, root_exprs: list[str], env: dict[str, Any]) -> None:
        self.root_exprs, self.env = root_exprs, env
        self.names: dict[Path, str] = {}
        self.lines: list[str] = []
        self._consts: dict[int, str] = {}

    def const(self, value: Any) -> str:
        name = self._consts.get(id(value))
        if name is None:
            name = self._consts[id(value)] = f"k{len(self.env)}"
            self.env[name] = value
        return name

    def path(self, path: Path) -> str:
        name = self.names.get(path)
        if name is not None:
            return name
        if len(path) == 1:
            expr = self.root_exprs[path[0]]
        else:
            parent, step = self.path(path[:-1]), path[-1]
            if step[0] == "cell":
                expr = f"{parent}.cell_contents"
            elif step[0] == "attr":
                expr = f"{parent}.{step[1]}" if step[1].isidentifier() else f"getattr({parent}, {self.const(step[1])})"
            else:
                key = step[1]
                literal = type(key) in (int, str) and (type(key) is int or key.isidentifier())
                expr = f"{parent}[{repr(key) if literal else self.const(key)}]"
        name = self.names[path] = f"p{len(self.names)}"
        self.lines.append(f"{name} = {expr}")
        return name

    def guard(self, guard: tuple) -> str:
        """A condition that is true when the guard fails."""
        path, kind, *data = guard
        p = self.path(path)
        if kind == "eq":
            v = data[0]
            if isinstance(v, (bool, type(None), enum.Enum)) or v is ...:
                return f"{p} is not {self.const(v)}"
            return f"type({p}) is not {self.const(type(v))} or not ({p} is {self.const(v)} or {p} == {self.const(v)})"
        if kind == "type":
            return f"type({p}) is not {self.const(data[0])}"
        if kind == "len":
            return f"len({p}) != {data[0]}"
        if kind == "bool":
            return f"(len({p}) > 0) is not {data[0]}"
        if kind == "contains":
            return f"({self.const(data[0])} in {p}) is not {data[1]}"
        if kind == "keys":
            return f"tuple({p}) != {self.const(data[0])}"
        if kind == "alias":
            return f"{p} is not {self.path(data[0])}"
        if kind == "is":
            return f"{p} is not {self.const(data[0])}"
        if kind == "hasattr":
            return f"hasattr({p}, {self.const(data[0])}) is not {data[1]}"
        raise AssertionError(kind)


LOOKUP_ERRORS = (AttributeError, LookupError, TypeError, ValueError)
