"""NumPy's random API inside a traced function: fresh Philox draws at every call, not trace-time constants.

While a function is traced, :class:`RandomHooks` redirects

- the legacy module functions (``np.random.rand``, ``randn``, ``random``, ``uniform``, ``normal``,
  ``standard_normal``, ``randint``, ``binomial``, ``choice``, ``permutation``, ``shuffle``,
  ``exponential``, ...) to draws from NumPy's global state;
- ``np.random.Generator`` and ``RandomState`` objects the function can reach — arguments, and
  whatever live state shows it (``self.rng``, dict values, closure cells, globals; see
  :mod:`fusejit.tracer.capture`), plus bound methods of them (``sample = rng.random``) — to proxies
  that draw from that object;
- ``np.random.default_rng(seed)`` inside the function to a generator whose state is a constant of
  the trace (NumPy gives the same samples at every call too); without a seed, to fresh OS entropy.

Each source becomes one hidden u32[4] input (:class:`fusejit.random.sources.RngState`) refreshed
from the real generator before each call, which advances it as NumPy would. Every other
``np.random`` function, and every method these proxies do not implement, is refused with an
:class:`UnsupportedFunctionError` instead of being sampled once at trace time.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import constant
from ..tracer.array import TracedArray
from ..tracer.context import current
from ..tracer.errors import SideEffectError, TracingError, UnsupportedFunctionError
from . import distributions as dist
from .sources import ENTROPY, NumPySource, RngState, bit_generator_of, words_from

F64 = np.dtype(np.float64)
GENERATOR_TYPES = (np.random.Generator, np.random.RandomState)


# ---- draws from one source within one trace ------------------------------------------------------

class Draws:
    """The state of one random source in one trace and the streams drawn from it so far."""

    def __init__(self, source: RngState | np.ndarray, what: str) -> None:
        self.source = source  # the hidden input refreshed per call, or a constant state
        self.what = what
        self.streams = 0
        self._state: Any = None

    @property
    def state(self) -> Any:
        """The traced u32[4] state (read on the first draw: the trace is running by then)."""
        if self._state is None:
            src = self.source
            self._state = src.read() if isinstance(src, RngState) else TracedArray(constant(src))
        return self._state

    def take(self, shape: tuple, per_element: int = 1) -> tuple[Any, int]:
        """(state, stream) for a draw of ``shape`` (``per_element`` values per element)."""
        src = self.source
        if isinstance(src, RngState):
            if not all(isinstance(d, int) for d in shape):
                raise TracingError(
                    f"{self.what}: a draw of shape {shape} has a dynamic dim; fusejit advances a NumPy generator "
                    "by the number of values drawn, which must be known when tracing. Use fusejit.random with an "
                    "explicit key for dynamic shapes.")
            src.values += math.prod(shape) * per_element
            src.streams += 1
        self.streams += 1
        return self.state, self.streams - 1


def _shape(size: Any) -> tuple:
    """NumPy's ``size`` as a shape of Python ints (dynamic dims stay symbols)."""
    dims = () if size is None else tuple(size) if isinstance(size, (tuple, list)) else (size,)
    return tuple(d if isinstance(d, str) else operator.index(d) for d in dims)


def _shape_of(*params: Any) -> tuple:
    return tuple(np.broadcast_shapes(*(tuple(getattr(p, "shape", np.shape(p))) for p in params)))


def _f64(x: Any) -> Any:
    if isinstance(x, TracedArray):
        return x if x.dtype == F64 else x.astype(F64)
    return np.asarray(x, dtype=F64)


def _static_int(x: Any, what: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
        raise UnsupportedFunctionError(
            f"{what} must be a Python int inside a traced function (fusejit draws fixed-size samples; "
            f"bounds that are arrays are not supported), got {type(x).__name__}")
    return int(x)


def _no_out(out: Any, what: str) -> None:
    if out is not None:
        raise UnsupportedFunctionError(f"{what}(out=...) is not supported in a traced function; use the result")


class _Sampler:
    """What the Generator and RandomState proxies share: draws mapped onto the distributions."""

    def __init__(self, draws: Draws, name: str) -> None:
        self._draws = draws
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise UnsupportedFunctionError(
            f"{self._name}.{attr} is not supported in a traced function (it would be sampled once, at trace time). "
            "fusejit supports random/rand/randn/uniform/normal/standard_normal/integers/randint/binomial/"
            "exponential/choice/permutation/shuffle; draw others outside the jitted function and pass them in.")

    def __fusejit_replay__(self, fn_name: str, where: str) -> Any:
        """What a replayed store of this proxy (``self.other = self.rng``) stores: the generator it stands
        for. One created inside the function cannot be rebuilt in the state NumPy would leave it: refused."""
        src = self._draws.source
        if isinstance(src, RngState) and isinstance(src.source, NumPySource) and src.source.owner is not None:
            return src.source.owner
        raise SideEffectError(
            f"{fn_name} stores a random generator made inside the traced function ({self._draws.what}) in {where}; "
            "fusejit cannot replay its state after each call. Create the generator outside the jitted function "
            "(in __init__) and use it inside.")

    def _uniform01(self, shape: tuple, dtype: Any = F64) -> Any:
        return dist.uniform01(*self._draws.take(shape), shape, dtype)

    def _normal01(self, shape: tuple, dtype: Any = F64) -> Any:
        return dist.normal01(*self._draws.take(shape), shape, dtype)

    def _uniform(self, low: Any, high: Any, size: Any) -> Any:
        low, high = _f64(low), _f64(high)
        shape = _shape(size) if size is not None else _shape_of(low, high)
        return low + (high - low) * self._uniform01(shape)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        loc, scale = _f64(loc), _f64(scale)
        shape = _shape(size) if size is not None else _shape_of(loc, scale)
        return loc + scale * self._normal01(shape)

    def _exponential01(self, shape: tuple, dtype: Any = F64) -> Any:
        return dist.exponential01(*self._draws.take(shape), shape, dtype)

    def exponential(self, scale: Any = 1.0, size: Any = None) -> Any:
        scale = _f64(scale)
        shape = _shape(size) if size is not None else _shape_of(scale)
        return scale * self._exponential01(shape)

    def binomial(self, n: Any, p: Any, size: Any = None) -> Any:
        trials = _static_int(n, f"{self._name}.binomial: n")
        shape = _shape(size) if size is not None else _shape_of(p)
        return dist.binomial(*self._draws.take(shape, max(trials, 1)), shape, trials, _f64(p))

    def _integers(self, low: Any, high: Any, size: Any, dtype: Any, endpoint: bool = False) -> Any:
        if high is None:
            low, high = 0, low
        lo, hi = _static_int(low, f"{self._name}: low"), _static_int(high, f"{self._name}: high") + endpoint
        if hi <= lo:
            raise ValueError(f"{self._name}: low >= high ({lo} >= {hi})")
        shape = _shape(size)
        return dist.integers(*self._draws.take(shape), shape, lo, hi, dtype)

    def _permutation_indices(self, n: int) -> Any:
        return dist.ranks(*self._draws.take((n,)), n)

    def permutation(self, x: Any, axis: int = 0) -> Any:
        if axis != 0:
            raise UnsupportedFunctionError(f"{self._name}.permutation: only axis=0 is supported")
        if isinstance(x, (int, np.integer)):
            return self._permutation_indices(int(x))
        n = _static_int(x.shape[0] if hasattr(x, "shape") else len(x), f"{self._name}.permutation: length")
        return np.take(x, self._permutation_indices(n), axis=0)

    def shuffle(self, x: Any, axis: int = 0) -> None:
        if axis != 0:
            raise UnsupportedFunctionError(f"{self._name}.shuffle: only axis=0 is supported")
        if not isinstance(x, TracedArray):
            raise UnsupportedFunctionError(
                f"{self._name}.shuffle of a {type(x).__name__} inside a traced function: only arrays computed in "
                "the function can be shuffled in place (use permutation for others)")
        x[...] = self.permutation(x)

    def _choice(self, a: Any, size: Any, replace: bool, p: Any) -> Any:
        n = int(a) if isinstance(a, (int, np.integer)) else _static_int(len(a), f"{self._name}.choice: len(a)")
        shape = _shape(size)
        if p is not None and not isinstance(p, TracedArray):
            p = np.asarray(p, dtype=F64)
            if p.shape != (n,) or (p < 0).any() or not math.isclose(p.sum(), 1.0, rel_tol=1e-8, abs_tol=1e-8):
                raise ValueError(f"{self._name}.choice: p must be {n} non-negative probabilities summing to 1")
        if replace:
            idx = self._integers(0, n, shape, np.int64) if p is None \
                else dist.categorical(*self._draws.take(shape), shape, p)
        else:
            if p is not None:
                raise UnsupportedFunctionError(f"{self._name}.choice(replace=False, p=...) is not supported")
            k = math.prod(shape)
            if k > n:
                raise ValueError(f"{self._name}.choice: cannot take a larger sample than population when replace=False")
            idx = self._permutation_indices(n)[:k].reshape(shape)
        return idx if isinstance(a, (int, np.integer)) else np.take(a, idx, axis=0)


class TracedGenerator(_Sampler):
    """Stands in for an ``np.random.Generator`` while tracing."""

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        _no_out(out, "Generator.random")
        return self._uniform01(_shape(size), dtype)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        _no_out(out, "Generator.standard_normal")
        return self._normal01(_shape(size), dtype)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        return self._uniform(low, high, size)

    def standard_exponential(self, size: Any = None, dtype: Any = np.float64, method: str = "zig",
                             out: Any = None) -> Any:
        _no_out(out, "Generator.standard_exponential")
        return self._exponential01(_shape(size), dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = np.int64,
                 endpoint: bool = False) -> Any:
        return self._integers(low, high, size, dtype, endpoint)

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None, axis: int = 0,
               shuffle: bool = True) -> Any:
        if axis != 0:
            raise UnsupportedFunctionError("Generator.choice: only axis=0 is supported")
        return self._choice(a, size, replace, p)


class TracedRandomState(_Sampler):
    """Stands in for an ``np.random.RandomState`` (and the legacy ``np.random`` functions) while tracing."""

    def rand(self, *dims: Any) -> Any:
        return self._uniform01(_shape(dims))

    def randn(self, *dims: Any) -> Any:
        return self._normal01(_shape(dims))

    def random_sample(self, size: Any = None) -> Any:
        return self._uniform01(_shape(size))

    random = sample = ranf = random_sample

    def standard_normal(self, size: Any = None) -> Any:
        return self._normal01(_shape(size))

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        return self._uniform(low, high, size)

    def standard_exponential(self, size: Any = None) -> Any:
        return self._exponential01(_shape(size))

    def randint(self, low: Any, high: Any = None, size: Any = None, dtype: Any = int) -> Any:
        return self._integers(low, high, size, np.dtype(dtype))

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None) -> Any:
        return self._choice(a, size, replace, p)

    def seed(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedFunctionError(
            "np.random.seed inside a traced function: seed outside it (each call then draws the next samples "
            "of the seeded stream), or create np.random.default_rng(seed) inside for the same samples every call")


# ---- the hooks around one trace ---------------------------------------------------------------------

_active = threading.local()  # the RandomHooks of the trace running in this thread
_patch_lock = threading.Lock()
_patch_users = 0
_originals: dict[str, Any] = {}
_LEGACY_NAMES = [n for n in dir(np.random)
                 if getattr(getattr(np.random, n), "__self__", None) is np.random.mtrand._rand] \
    + ["seed", "ranf", "sample", "get_bit_generator", "set_bit_generator"]  # module functions over the same state
_STATE_ACCESS = ("get_state", "set_state", "get_bit_generator", "set_bit_generator")


def _hooks() -> RandomHooks | None:
    hooks = getattr(_active, "hooks", None)
    return hooks if hooks is not None and current() is not None else None


def _legacy(name: str) -> Callable[..., Any]:
    original = getattr(np.random, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hooks = _hooks()
        if hooks is None:
            return original(*args, **kwargs)
        if name in _STATE_ACCESS:
            raise UnsupportedFunctionError(f"np.random.{name} inside a traced function is not supported")
        return getattr(hooks.legacy(), name)(*args, **kwargs)
    return wrapper


def _default_rng(seed: Any = None) -> Any:
    hooks = _hooks()
    if hooks is None:
        return _originals["default_rng"](seed)
    if isinstance(seed, _Sampler):
        return seed
    if isinstance(seed, np.random.Generator):
        return hooks.proxy(seed)
    return hooks.created(seed)


def proxy_for(value: Any) -> Any:
    """What the traced function sees for a generator (or a bound method of one) it reaches through live
    state (:mod:`fusejit.tracer.capture`): its proxy in the running trace."""
    hooks = _hooks()
    return value if hooks is None else hooks.swapped(value)


class _Unseeded(type):
    """Stands in for a NumPy bit generator, ``SeedSequence`` or ``RandomState`` class during a trace:
    constructing one without a seed is refused (NumPy would draw fresh OS entropy at every call; a
    trace would sample it once), everything else is the original class (``isinstance`` included)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        original = type.__getattribute__(cls, "original")
        unseeded = (args[0] if args else kwargs.get("entropy", kwargs.get("seed"))) is None
        if unseeded and _hooks() is not None:
            raise UnsupportedFunctionError(
                f"np.random.{original.__name__}() without a seed inside a traced function would be seeded once, "
                "at trace time; use np.random.default_rng() inside (fresh entropy per call), or create the "
                "generator outside the function")
        return original(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, type.__getattribute__(cls, "original"))

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, type.__getattribute__(cls, "original"))

    def __getattr__(cls, name: str) -> Any:
        return getattr(type.__getattribute__(cls, "original"), name)


_SEEDED_CLASSES = ("PCG64", "PCG64DXSM", "MT19937", "SFC64", "Philox", "SeedSequence", "RandomState")


def _install() -> None:
    global _patch_users
    with _patch_lock:
        if _patch_users == 0:
            for name in _LEGACY_NAMES:
                _originals[name] = getattr(np.random, name)
                setattr(np.random, name, _legacy(name))
            _originals["default_rng"] = np.random.default_rng
            np.random.default_rng = _default_rng
            for name in _SEEDED_CLASSES:
                _originals[name] = original = getattr(np.random, name)
                setattr(np.random, name, _Unseeded(name, (), {"original": original}))
        _patch_users += 1


def _uninstall() -> None:
    global _patch_users
    with _patch_lock:
        _patch_users -= 1
        if _patch_users == 0:
            for name, fn in _originals.items():
                setattr(np.random, name, fn)
            _originals.clear()


class RandomHooks:
    """``with RandomHooks(leaves) as h:`` around one trace: ``np.random``'s functions
    redirected while it runs; ``h.leaves`` are the static leaves (arguments) with generators replaced
    by proxies. Generators reached through live state are swapped by the live session
    (:func:`proxy_for`)."""

    def __init__(self, leaves: list[Any]) -> None:
        self.sources: dict[Any, Draws] = {}
        self.proxies: dict[int, _Sampler] = {}
        self._names = itertools.count()
        self.leaves = [self.swapped(v) for v in leaves]

    # sources
    def _var_draws(self, key: Any, source: Any, what: str) -> Draws:
        if key not in self.sources:
            self.sources[key] = Draws(RngState(source, f"rng{next(self._names)}"), what)
        return self.sources[key]

    def legacy(self) -> TracedRandomState:
        return TracedRandomState(self._var_draws("legacy", NumPySource(None), "np.random"), "np.random")

    def proxy(self, obj: Any) -> _Sampler:
        if id(obj) not in self.proxies:
            draws = self._var_draws(id(obj), NumPySource(obj), type(obj).__name__)
            cls = TracedGenerator if isinstance(obj, np.random.Generator) else TracedRandomState
            self.proxies[id(obj)] = cls(draws, type(obj).__name__)
        return self.proxies[id(obj)]

    def created(self, seed: Any) -> TracedGenerator:
        """``default_rng(seed)`` inside the function: a constant state from ``seed``, or fresh entropy."""
        if seed is None:
            return TracedGenerator(self._var_draws(object(), ENTROPY, "default_rng()"), "Generator")
        words = words_from(bit_generator_of(_originals["default_rng"](seed)), 2)
        return TracedGenerator(Draws(words, "default_rng(seed)"), "Generator")

    def swapped(self, value: Any) -> Any:
        """``value`` as the trace shows it: a generator (or a bound method of one) becomes its proxy."""
        if isinstance(value, GENERATOR_TYPES):
            return self.proxy(value)
        owner = getattr(value, "__self__", None)
        if isinstance(owner, GENERATOR_TYPES) and isinstance(value, (types.BuiltinMethodType, types.MethodType)):
            return getattr(self.proxy(owner), value.__name__)
        return value

    def __enter__(self) -> RandomHooks:
        _install()
        _active.hooks = self
        return self

    def __exit__(self, *exc: object) -> None:
        _active.hooks = None
        _uninstall()
