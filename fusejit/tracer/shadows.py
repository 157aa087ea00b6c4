"""Recording stand-ins for the dicts and lists a traced function reaches through live state.

While a function is traced, a dict or list found on ``self``, in a closure cell or in a global is
replaced (for the function's eyes only) by a *shadow*: a ``dict``/``list`` subclass holding the
same items. Reading an item wraps it lazily (an array becomes a captured input, a scalar a guard;
see :class:`.capture.Session`) and records what the program depended on (a key's presence, the
length, the key order); writing logs a side effect, in program order, that is replayed on the
real container after every call (:mod:`.side_effects`). The original is never modified during
the trace, so a failed trace leaves it as it was.

What a shadow cannot replay faithfully (``popitem``, ``sort``, slice assignment, ...) raises a
:class:`.errors.SideEffectError` at trace time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import SideEffectError

if TYPE_CHECKING:
    from .capture import Path, Session


def _refuse(kind: str, what: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise SideEffectError(
            f"{kind}.{what}() on {self._s.describe(self._path)} inside a traced function: fusejit replays "
            f"stores, appends, inserts, pops and deletes on live state after each call, but not {what}(). "
            "Do it outside the jitted function, or build a new container and assign it.")
    return method


def _whole_read(kind: type, name: str) -> Any:
    """``kind``'s method ``name`` as a read of the whole container (every item wrapped, size guarded)."""
    base = getattr(kind, name)

    def method(self: Any, *args: Any) -> Any:
        self._all()
        return base(self, *args)
    method.__name__ = name
    return method


class RecordingDict(dict):
    """A dict on live state, as a traced function sees it (see the module docstring)."""

    __slots__ = ("_s", "_path", "_frozen", "_fresh", "_touched", "_cleared", "_whole", "_keys0")

    def __init__(self, session: Session, path: Path, original: dict, frozen: bool = False) -> None:
        dict.__init__(self, original)
        self._s, self._path, self._frozen = session, path, frozen
        self._fresh = set(original)  # keys whose value is still the original, not yet wrapped
        self._touched: set = set()  # keys written or deleted by the trace: their state is the trace's own
        self._cleared = False
        self._whole = False
        self._keys0 = tuple(original)

    # ---- reads ---------------------------------------------------------------------------

    def _value(self, k: Any) -> Any:
        v = dict.__getitem__(self, k)
        if k in self._fresh:
            self._fresh.discard(k)
            v = self._s.wrap(v, self._path + (("item", k),), self._frozen)
            dict.__setitem__(self, k, v)
        return v

    def _presence(self, k: Any) -> bool:
        present = dict.__contains__(self, k)
        if k not in self._touched and not self._cleared:
            self._s.guard(self._path, "contains", k, present)
        return present

    def _all(self) -> None:
        """A read of the whole dict (iteration, length, comparison): the key order is guarded."""
        if not self._whole and not self._cleared:
            self._whole = True
            self._s.guard(self._path, "keys", self._keys0)
        for k in list(dict.keys(self)):
            self._value(k)

    def __getitem__(self, k: Any) -> Any:
        if self._presence(k):
            return self._value(k)
        raise KeyError(k)

    def get(self, k: Any, default: Any = None) -> Any:
        return self._value(k) if self._presence(k) else default

    def __contains__(self, k: Any) -> bool:
        return self._presence(k)

    def __len__(self) -> int:
        if not self._whole and not self._cleared:
            self._whole = True
            self._s.guard(self._path, "keys", self._keys0)
        return dict.__len__(self)

    __iter__ = _whole_read(dict, "__iter__")
    __eq__ = _whole_read(dict, "__eq__")
    __ne__ = _whole_read(dict, "__ne__")
    __repr__ = _whole_read(dict, "__repr__")
    __reversed__ = _whole_read(dict, "__reversed__")
    __or__ = _whole_read(dict, "__or__")
    keys = _whole_read(dict, "keys")
    values = _whole_read(dict, "values")
    items = _whole_read(dict, "items")
    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> dict:
        self._all()
        return dict(dict.items(self))

    # ---- writes: logged, then applied to the shadow --------------------------------------------

    def _mark(self, k: Any) -> None:
        self._touched.add(k)
        self._fresh.discard(k)

    def __setitem__(self, k: Any, v: Any) -> None:
        self._s.log("setitem", self, k, v)
        self._mark(k)
        dict.__setitem__(self, k, v)

    def __delitem__(self, k: Any) -> None:
        if not self._presence(k):
            raise KeyError(k)
        self._s.log("delitem", self, k)
        self._mark(k)
        dict.__delitem__(self, k)

    def pop(self, k: Any, *default: Any) -> Any:
        if not self._presence(k):
            if default:
                return default[0]
            raise KeyError(k)
        v = self._value(k)
        self._s.log("pop", self, k)
        self._mark(k)
        dict.__delitem__(self, k)
        return v

    def setdefault(self, k: Any, default: Any = None) -> Any:
        if self._presence(k):
            return self._value(k)
        self[k] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def clear(self) -> None:
        self._s.log("clear", self)
        self._cleared = True
        self._fresh.clear()
        dict.clear(self)

    popitem = _refuse("dict", "popitem")
    __ior__ = _refuse("dict", "|=")


class RecordingList(list):
    """A list on live state, as a traced function sees it (see the module docstring). ``_origin[p]``
    is the original index of the item now at position ``p`` (None: put there by the trace)."""

    __slots__ = ("_s", "_path", "_frozen", "_origin", "_wrapped", "_len0", "_modified", "_whole")

    def __init__(self, session: Session, path: Path, original: list, frozen: bool = False) -> None:
        list.__init__(self, original)
        self._s, self._path, self._frozen = session, path, frozen
        self._origin: list[int | None] = list(range(len(original)))
        self._wrapped: set[int] = set()
        self._len0 = len(original)
        self._modified = False
        self._whole = False

    # ---- reads ---------------------------------------------------------------------------

    def _length(self) -> None:
        if not self._whole:
            self._whole = True
            self._s.guard(self._path, "len", self._len0)

    def _position(self, i: int) -> int:
        """The position an int index names now; an index out of range depends on the length."""
        i = i.__index__()
        n = list.__len__(self)
        p = i + n if i < 0 else i
        if not 0 <= p < n:
            self._length()
            raise IndexError("list index out of range")
        return p

    def _item(self, p: int, negative: bool) -> Any:
        q = self._origin[p]
        if q is not None and q not in self._wrapped:
            self._wrapped.add(q)
            # the path names the item as the program did: from the end for a negative index, so
            # `history[-1]` stays the last item of a list that grows between calls
            index = q - self._len0 if negative else q
            v = self._s.wrap(list.__getitem__(self, p), self._path + (("item", index),), self._frozen)
            list.__setitem__(self, p, v)
        return list.__getitem__(self, p)

    def _all(self) -> None:
        self._length()
        for p in range(list.__len__(self)):
            self._item(p, False)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            self._all()
            return list.__getitem__(self, i)
        return self._item(self._position(i), i < 0)

    def __bool__(self) -> bool:
        if self._modified:
            self._length()
        elif not self._whole:
            self._s.guard(self._path, "bool", self._len0 > 0)
        return list.__len__(self) > 0

    def __len__(self) -> int:
        self._length()
        return list.__len__(self)

    __iter__ = _whole_read(list, "__iter__")
    __contains__ = _whole_read(list, "__contains__")
    __eq__ = _whole_read(list, "__eq__")
    __ne__ = _whole_read(list, "__ne__")
    __repr__ = _whole_read(list, "__repr__")
    __reversed__ = _whole_read(list, "__reversed__")
    __add__ = _whole_read(list, "__add__")
    __mul__ = _whole_read(list, "__mul__")
    index = _whole_read(list, "index")
    count = _whole_read(list, "count")
    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> list:
        self._all()
        return list(list.__iter__(self))

    # ---- writes: logged as the program wrote them, then applied to the shadow ------------------

    def append(self, v: Any) -> None:
        self._s.log("append", self, v)
        self._modified = True
        self._origin.append(None)
        list.append(self, v)

    def extend(self, items: Any) -> None:
        for v in list(items):
            self.append(v)

    def __iadd__(self, items: Any) -> RecordingList:
        self.extend(items)
        return self

    def insert(self, i: int, v: Any) -> None:
        self._s.log("insert", self, i, v)
        self._modified = True
        n = list.__len__(self)
        p = max(0, min(n, i + n if i < 0 else i))
        self._origin.insert(p, None)
        list.insert(self, p, v)

    def pop(self, i: int = -1) -> Any:
        p = self._position(i)
        v = self._item(p, i < 0)
        self._s.log("pop", self, i)
        self._modified = True
        del self._origin[p]
        list.__delitem__(self, p)
        return v

    def __setitem__(self, i: Any, v: Any) -> None:
        if isinstance(i, slice):
            _refuse("list", "slice assignment")(self)
        p = self._position(i)
        self._s.log("setitem", self, i, v)
        self._modified = True
        self._origin[p] = None
        list.__setitem__(self, p, v)

    def __delitem__(self, i: Any) -> None:
        if isinstance(i, slice):
            _refuse("list", "slice deletion")(self)
        p = self._position(i)
        self._s.log("delitem", self, i)
        self._modified = True
        del self._origin[p]
        list.__delitem__(self, p)

    def clear(self) -> None:
        self._s.log("clear", self)
        self._modified = True
        self._origin.clear()
        list.clear(self)

    remove = _refuse("list", "remove")
    sort = _refuse("list", "sort")
    reverse = _refuse("list", "reverse")
    __imul__ = _refuse("list", "*=")


class AttributeView(dict):
    """``vars(obj)`` / ``obj.__dict__`` of a tracked object, as a traced function sees it: its
    attributes wrapped like attribute reads (arrays captured, scalars guarded). Writing through it
    would bypass the store log: refused, with the spelling that works."""

    __slots__ = ("_what",)

    def __init__(self, what: str, items: dict) -> None:
        dict.__init__(self, items)
        self._what = what

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise SideEffectError(
            f"writing through {self._what} inside a traced function: fusejit replays attribute stores made with "
            "`obj.name = value` or `setattr(obj, name, value)`; write the attribute that way.")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _refuse  # type: ignore[assignment]


class ModuleProxy:
    """A user module named by a traced function (``import config`` ... ``config.SCALE``), as the
    function sees it: attribute reads are live state like ``self``'s (arrays captured, scalars
    guarded), stores are logged and replayed (``setattr(config, name, value)``). Other threads, and
    code outside the trace, go straight to the module."""

    __slots__ = ("_s", "_path", "_module", "_stored")

    def __init__(self, session: Session, path: Path, module: Any) -> None:
        object.__setattr__(self, "_s", session)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_stored", {})

    def __getattr__(self, name: str) -> Any:
        if name in self._stored:
            return self._stored[name]
        value = getattr(self._module, name)
        return value if name[:2] == "__" or not self._s.active() else self._s.module_attribute(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if not self._s.active():
            setattr(self._module, name, value)
            return
        self._s.log("setattr", self, name, value)
        self._stored[name] = value

    def __repr__(self) -> str:
        return repr(self._module)
