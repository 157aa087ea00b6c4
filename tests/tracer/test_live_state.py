"""Live state (issue 13): ordinary class-based NumPy code, jitted, called many times and
interleaved with plain NumPy calls on the same objects, leaves the objects and results exactly as
plain NumPy does. Each class exists twice: the plain one and a subclass whose methods are jitted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import fusejit
from fusejit import jit
from tests.tracer import live_helpers


def same_state(a, b, path="obj"):
    """Bitwise the same values, types and structure; ``b`` holds no traced arrays."""
    assert type(a) is type(b) or (type(b).__mro__[1] is type(a)), (path, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            same_state(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same_state(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        same_state(vars(a), vars(b), path)
    else:
        assert a == b or (a != a and b != b), (path, a, b)


# ---- a dense layer keeping its input for backward, updated in place ---------------------------------


class Dense:
    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((n_in, n_out)).astype(np.float32)
        self.b = np.zeros(n_out, np.float32)
        self.lr = 0.05

    def forward(self, X):
        self.X = X
        return np.tanh(X @ self.W + self.b)

    def backward(self, dY):
        self.dW = self.X.T @ dY
        self.db = dY.sum(axis=0)
        return dY @ self.W.T

    def update(self):
        self.W -= self.lr * self.dW
        self.b -= self.lr * self.db


class JitDense(Dense):
    forward = jit(Dense.forward)
    backward = jit(Dense.backward)
    update = jit(Dense.update)


def test_dense_layer_forward_backward_update_match_numpy():
    plain, fast = Dense(6, 4), JitDense(6, 4)
    W_id = id(fast.W)
    rng = np.random.default_rng(1)
    for step in range(12):
        X = rng.standard_normal((5, 6)).astype(np.float32)
        dY = rng.standard_normal((5, 4)).astype(np.float32)
        outs = []
        for layer in (plain, fast):
            y = layer.forward(X)
            dx = layer.backward(dY)
            if step % 3 == 2:  # interleaved with plain NumPy on the same object
                Dense.update(layer)
                layer.lr *= 0.5  # a guarded scalar: the next update retraces
            else:
                layer.update()
            outs.append((y, dx))
        np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=2e-6, atol=2e-6)  # tanh: a few ulp
        np.testing.assert_array_equal(outs[1][1], outs[0][1])
        np.testing.assert_array_equal(fast.W, plain.W)
        np.testing.assert_array_equal(fast.X, plain.X)
        np.testing.assert_array_equal(fast.dW, plain.dW)
        np.testing.assert_array_equal(fast.b, plain.b)
        assert type(fast.X) is np.ndarray and type(fast.dW) is np.ndarray
    assert id(fast.W) == W_id  # `self.W -= ...` updates the buffer in place, as NumPy does
    assert JitDense.forward.trace_count == 1 and JitDense.backward.trace_count == 1
    assert JitDense.update.trace_count == 4  # 4 values of lr reached a jitted update: one program per guard set


def test_rebinding_a_captured_array_to_a_new_shape_retraces():
    layer = JitDense(3, 2)
    X = np.ones((2, 3), np.float32)
    layer.forward(X)
    layer.W = np.ones((3, 5), np.float32)  # rebinding: the new array is read
    layer.b = np.zeros(5, np.float32)
    np.testing.assert_array_equal(layer.forward(X), np.tanh(X @ layer.W + layer.b))
    layer.W = layer.W.astype(np.float64)  # new dtype: retrace again, NumPy's promotion
    assert layer.forward(X).dtype == np.float64
    assert JitDense.forward.trace_count >= 3


# ---- a standardizer fit with plain NumPy, transform jitted ---------------------------------------------


class Standardizer:
    eps = 1e-12

    def fit(self, data):
        self.mean_ = data.mean(axis=0)
        self.scale_ = data.std(axis=0) + self.eps
        self.n_seen = len(data)
        return self

    def transform(self, data):
        return (data - self.mean_) / self.scale_


class JitStandardizer(Standardizer):
    transform = jit(Standardizer.transform)


def test_standardizer_sees_every_refit():
    plain, fast = Standardizer(), JitStandardizer()
    rng = np.random.default_rng(2)
    for k in range(6):
        fitdata = rng.standard_normal((50, 3)) * (k + 1) + k
        plain.fit(fitdata)
        fast.fit(fitdata)  # rebinds mean_/scale_ to new arrays of the same shape: no retrace needed
        x = rng.standard_normal((7, 3))
        np.testing.assert_array_equal(fast.transform(x), plain.transform(x))
    assert JitStandardizer.transform.trace_count == 1


# ---- a momentum optimizer keeping velocity in a dict --------------------------------------------------


class Momentum:
    def __init__(self, lr=0.1, mu=0.9):
        self.lr, self.mu, self.velocity, self.t = lr, mu, {}, 0

    def step(self, params, grads):
        new = {}
        for k in sorted(params):
            if k not in self.velocity:
                self.velocity[k] = np.zeros_like(params[k])
            self.velocity[k] = self.mu * self.velocity[k] - self.lr * grads[k]
            new[k] = params[k] + self.velocity[k]
        self.t += 1
        return new


class JitMomentum(Momentum):
    step = jit(Momentum.step)


def test_momentum_velocity_dict_matches_numpy():
    plain, fast = Momentum(), JitMomentum()
    rng = np.random.default_rng(3)
    p_plain = p_fast = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    for step in range(8):
        g = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
        p_plain = plain.step(p_plain, g)
        p_fast = fast.step(p_fast, g) if step != 4 else Momentum.step(fast, p_fast, g)
        same_state(p_plain, p_fast)
        same_state(vars(plain), vars(fast))
    assert fast.t == 8  # a Python counter: guarded, so each new value retraced (correct, not fast)


# ---- an RNN cell appending its hidden state to a list -----------------------------------------------


class RNNCell:
    def __init__(self, n_in, n_h, seed=0):
        rng = np.random.default_rng(seed)
        self.Wx = rng.standard_normal((n_in, n_h)) * 0.5
        self.Wh = rng.standard_normal((n_h, n_h)) * 0.5
        self.h0 = np.zeros(n_h)
        self.history = []

    def step(self, x):
        h_prev = self.history[-1] if self.history else self.h0
        h = np.tanh(x @ self.Wx + h_prev @ self.Wh)
        self.history.append(h)
        return h


class JitRNNCell(RNNCell):
    step = jit(RNNCell.step)


def test_rnn_cell_history_matches_numpy_over_many_steps():
    plain, fast = RNNCell(3, 4), JitRNNCell(3, 4)
    rng = np.random.default_rng(4)
    for t in range(10):
        x = rng.standard_normal(3)
        h_plain = plain.step(x)
        h_fast = fast.step(x) if t != 6 else RNNCell.step(fast, x)
        np.testing.assert_allclose(h_fast, h_plain, rtol=1e-14, atol=1e-15)
        assert len(fast.history) == len(plain.history) == t + 1
        assert all(type(h) is np.ndarray for h in fast.history)
        np.testing.assert_allclose(np.array(fast.history), np.array(plain.history), rtol=1e-14, atol=1e-15)
    # two programs: the empty history (h0) and `history[-1]` of a non-empty list, whatever its length
    assert JitRNNCell.step.trace_count == 2
    fast.history.clear()  # plain Python between calls: back to the first program
    np.testing.assert_allclose(fast.step(np.ones(3)), RNNCell.step(RNNCell(3, 4), np.ones(3)), rtol=1e-14)
    assert JitRNNCell.step.trace_count == 2


# ---- closures and globals --------------------------------------------------------------------------

SCALE = 2.0
TABLE = np.arange(4.0)


def scaled_lookup(x):
    return x * SCALE + TABLE


def test_globals_are_live_and_guarded():
    global SCALE, TABLE
    f = jit(scaled_lookup)
    x = np.ones(4)
    np.testing.assert_array_equal(f(x), scaled_lookup(x))
    TABLE += 1  # in place
    np.testing.assert_array_equal(f(x), scaled_lookup(x))
    assert f.trace_count == 1
    old_scale, old_table = SCALE, TABLE
    try:
        SCALE = 3.0  # a changed Python scalar: retrace
        TABLE = np.zeros(4)  # rebound
        np.testing.assert_array_equal(f(x), scaled_lookup(x))
        assert f.trace_count == 2
    finally:
        SCALE, TABLE = old_scale, old_table
    np.testing.assert_array_equal(f(x), scaled_lookup(x))
    assert f.trace_count == 2  # the first guard set still holds: its program is reused


def test_closure_state_nonlocal_store_and_constants_opt_in():
    total = np.zeros(3)
    calls = []

    def accumulate(x):
        nonlocal total
        total = total + x
        calls.append(x.sum())
        return total

    f = jit(accumulate)
    for k in range(4):
        out = f(np.full(3, float(k)))
    np.testing.assert_array_equal(total, np.full(3, 6.0))
    np.testing.assert_array_equal(out, total)
    assert [float(c) for c in calls] == [0.0, 3.0, 6.0, 9.0] and all(type(c) is np.ndarray for c in calls)
    frozen_w = np.ones(3)
    g = jit(lambda x: x * frozen_w, constants=[frozen_w])
    g(np.ones(3))
    frozen_w[:] = 5  # the user promised it is constant: the program keeps the value it was traced with
    np.testing.assert_array_equal(g(np.ones(3)), np.ones(3))


def test_freeze_folds_live_state():
    layer = Dense(3, 2)
    graph = fusejit.freeze(lambda x: x @ layer.W + layer.b, fusejit.Spec((None, 3), np.float32))
    assert len(graph.inputs) == 1 and "constant" in str(graph)


def test_live_dispatch_is_a_straight_line_hot_path():
    """Interleaving two objects of one class: each keeps its own program and state."""
    a, b = JitStandardizer().fit(np.arange(6.0).reshape(3, 2)), JitStandardizer().fit(np.ones((3, 2)) * 4)
    x = np.ones((2, 2))
    for _ in range(3):
        np.testing.assert_array_equal(a.transform(x), Standardizer.transform(a, x))
        np.testing.assert_array_equal(b.transform(x), Standardizer.transform(b, x))


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_side_outputs_do_not_alias_inputs(backend):
    class Keep:
        def __init__(self):
            self.W = np.ones(3)

        def run(self, x):
            self.last = self.W.reshape(3)  # a view-like result of a captured array
            self.out = x + 0
            return x

    k = Keep()
    f = jit(Keep.run, backend=backend)
    x = np.arange(3.0)
    f(k, x)
    f(k, x)
    x[0] = 99
    assert k.out[0] == 0 and k.last.shape == (3,)


# ---- dataclasses (unhashable with eq=True) and __slots__ classes -----------------------------------


@dataclasses.dataclass
class Affine:
    W: np.ndarray
    b: np.ndarray
    calls: int = 0

    @jit
    def __call__(self, x):
        self.last = x @ self.W
        return self.last + self.b


class Slotted:
    __slots__ = ("W", "out")

    def __init__(self):
        self.W = np.full(2, 2.0)

    @jit
    def run(self, x):
        self.out = x * self.W
        return self.out


def test_dataclass_and_slots_objects_are_live():
    a = Affine(np.eye(2), np.zeros(2))
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(a(x), x)
    a.W[0, 0] = 3.0
    a.b = np.ones(2)
    np.testing.assert_array_equal(a(x), x @ a.W + 1)
    np.testing.assert_array_equal(a.last, x @ a.W)
    s = Slotted()
    np.testing.assert_array_equal(s.run(x), x * 2)
    s.W = np.full(2, 5.0)
    np.testing.assert_array_equal(s.run(x), x * 5)
    np.testing.assert_array_equal(s.out, x * 5)
    assert type(s) is Slotted and type(a) is Affine


def test_bound_method_jitted_directly():
    layer = Dense(2, 2)
    forward = jit(layer.forward)
    X = np.ones((1, 2), np.float32)
    np.testing.assert_allclose(forward(X), Dense.forward(Dense(2, 2), X), rtol=1e-6)  # tanh: a few ulp
    layer.W *= 2
    np.testing.assert_allclose(forward(X), np.tanh(X @ layer.W + layer.b), rtol=1e-6)
    assert layer.X is not None and type(layer.X) is np.ndarray


def test_constants_fold_reads_but_stores_are_still_replayed():
    class Frozen(Dense):
        forward = jit(Dense.forward, constants=True)

    layer = Frozen(2, 2)
    X = np.ones((1, 2), np.float32)
    y0 = layer.forward(X)
    np.testing.assert_array_equal(layer.X, X)
    assert type(layer.X) is np.ndarray
    layer.W *= 3  # the user declared the state constant: the program keeps the traced weights
    np.testing.assert_allclose(layer.forward(X * 2), Dense.forward(Dense(2, 2), X * 2), rtol=1e-6)
    np.testing.assert_array_equal(layer.X, X * 2)  # but the store of the new input is replayed
    assert Frozen.forward.trace_count == 1 and y0.shape == (1, 2)
    one = Dense(2, 2)
    f = jit(Dense.forward, constants=[one])
    f(one, X)
    one.W *= 3
    np.testing.assert_array_equal(f(one, X), y0)
    assert type(one.X) is np.ndarray


def test_functions_and_other_objects_on_self_are_guarded_by_identity():
    class Act:
        def __init__(self):
            self.f = np.tanh
            self.names = frozenset({"a"})

        @jit
        def run(self, x):
            return self.f(x) if "a" in self.names else x

    a = Act()
    x = np.linspace(-1, 1, 5)
    np.testing.assert_array_equal(a.run(x), np.tanh(x))
    a.f = np.sin  # rebound to another function: the program that called tanh must not run
    np.testing.assert_allclose(a.run(x), np.sin(x), rtol=1e-15)
    a.names = frozenset({"b"})
    np.testing.assert_array_equal(a.run(x), x)
    assert Act.run.trace_count == 3


def test_variables_and_live_state_together():
    class Model:
        def __init__(self):
            self.v = fusejit.Variable(np.zeros(2), name="acc")
            self.W = np.ones(2)

        @jit
        def step(self, x):
            self.v.assign_add(x * self.W)
            self.last = self.v.read() + self.W
            self.W += 1
            return self.last

    m = Model()
    for _ in range(3):
        out = m.step(np.ones(2))
    np.testing.assert_array_equal(m.v.numpy(), np.full(2, 6.0))  # 1 + 2 + 3
    np.testing.assert_array_equal(m.W, np.full(2, 4.0))
    np.testing.assert_array_equal(out, np.full(2, 9.0))
    assert m.last is out
    assert Model.step.trace_count == 1


def test_objects_of_one_class_share_programs():
    class Layer(Dense):
        forward = jit(Dense.forward)

    net = [Layer(4, 4, seed=k) for k in range(3)] + [Layer(4, 2, seed=9)]
    plain = [Dense(4, 4, seed=k) for k in range(3)] + [Dense(4, 2, seed=9)]
    X = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    for _ in range(3):
        a, b = X, X
        for fast, slow in zip(net, plain):
            a, b = fast.forward(a), slow.forward(b)
            np.testing.assert_allclose(fast.X, slow.X, rtol=1e-5, atol=1e-6)  # each object's own input
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert Layer.forward.trace_count == 2  # one program per set of shapes, not one per object
    assert all(type(fast.X) is np.ndarray for fast in net)
    np.testing.assert_array_equal(net[1].X, net[0].forward(X))


class SGD:
    """Parameters found by walking vars(self), as optimizers written in NumPy often do."""

    def __init__(self):
        self.W = np.ones((2, 2))
        self.b = np.zeros(2)
        self.lr = 0.5

    @jit
    def norm(self):
        # traced arrays are not np.ndarray instances (as in every tracing compiler): test for .ndim
        return sum(np.sum(v * v) for v in vars(self).values() if hasattr(v, "ndim"))


def test_vars_of_self_is_read_live_and_refuses_writes():
    opt = SGD()
    assert opt.norm() == 4.0
    opt.W *= 3
    assert opt.norm() == 36.0
    opt.extra = np.ones(3)  # a new attribute: the key guard retraces
    assert opt.norm() == 39.0
    with pytest.raises(fusejit.SideEffectError, match=r"writing through vars\(self\)"):
        jit(lambda self, x: vars(self).update(W=x) or x)(opt, np.ones(2))
    assert type(opt.W) is np.ndarray and opt.W[0, 0] == 3.0


class LSTMCell:
    def __init__(self, n_in, n_h, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((n_in + n_h, 4 * n_h)) * 0.3
        self.n_h = n_h
        self.states = []

    def step(self, x):
        h, c = self.states[-1] if self.states else (np.zeros(self.n_h), np.zeros(self.n_h))
        z = np.concatenate([x, h]) @ self.W
        i, f, o, g = np.split(z, 4)
        sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        self.states.append((h, c))
        return h


class JitLSTMCell(LSTMCell):
    step = jit(LSTMCell.step)


def test_lstm_cell_appending_state_tuples_matches_numpy():
    plain, fast = LSTMCell(3, 5), JitLSTMCell(3, 5)
    rng = np.random.default_rng(6)
    for _ in range(8):
        x = rng.standard_normal(3)
        np.testing.assert_allclose(fast.step(x), plain.step(x), rtol=1e-13, atol=1e-15)
    assert len(fast.states) == 8 and all(type(s) is tuple and type(s[1]) is np.ndarray for s in fast.states)
    np.testing.assert_allclose(np.array(fast.states), np.array(plain.states), rtol=1e-13, atol=1e-15)
    assert JitLSTMCell.step.trace_count == 2


def test_programs_do_not_keep_replaced_state_alive():
    import gc
    import weakref

    s = JitStandardizer().fit(np.arange(6.0).reshape(3, 2))
    s.transform(np.ones((1, 2)))
    old = weakref.ref(s.mean_)
    s.fit(np.ones((3, 2)))  # rebinds mean_: the first array is garbage now
    s.transform(np.ones((1, 2)))
    gc.collect()
    assert old() is None


SHARED = [np.ones(2), np.full(2, 2.0)]


def _first():
    return SHARED[0]


def _second():
    return SHARED[1]


def test_state_named_by_two_helpers_is_one_root():
    f = jit(lambda x: x * _first() + _second())
    np.testing.assert_array_equal(f(np.ones(2)), np.full(2, 3.0))
    SHARED[1] = np.zeros(2)  # read through the second helper: live
    np.testing.assert_array_equal(f(np.ones(2)), np.ones(2))
    assert f.trace_count == 1


def test_globals_of_methods_from_another_module_are_live():
    class Child(live_helpers.Base):
        @jit
        def run(self, x):
            return self.shift(x) * 2

    c = Child()
    np.testing.assert_array_equal(c.run(np.ones(2)), np.full(2, 2.0))
    live_helpers.OFFSET += 1  # a global of the base class's module, in place
    np.testing.assert_array_equal(c.run(np.ones(2)), np.full(2, 4.0))
    live_helpers.OFFSET[:] = 0


def test_gradients_of_methods_read_live_state_and_replay_stores():
    class Model:
        def __init__(self):
            self.W = np.array([1.0, 2.0])

        def loss(self, x):
            self.last = x * self.W
            return np.sum(self.last ** 2)

    m = Model()
    g = fusejit.grad(m.loss)
    np.testing.assert_array_equal(g(np.ones(2)), [2.0, 8.0])
    np.testing.assert_array_equal(m.last, [1.0, 2.0])
    m.W[:] = 3  # the compiled gradient reads W at each call
    np.testing.assert_array_equal(g(np.ones(2)), [18.0, 18.0])
    assert type(m.last) is np.ndarray
    np.testing.assert_array_equal(m.last, [3.0, 3.0])


def test_a_missing_attribute_is_guarded():
    class Opt:
        @jit
        def scale(self, x):
            return x * self.factor if hasattr(self, "factor") else x

    o = Opt()
    np.testing.assert_array_equal(o.scale(np.ones(2)), np.ones(2))
    o.factor = 3.0
    np.testing.assert_array_equal(o.scale(np.ones(2)), np.full(2, 3.0))
    del o.factor
    np.testing.assert_array_equal(o.scale(np.ones(2)), np.ones(2))
    assert Opt.scale.trace_count == 2


def test_a_python_counter_retraces_warns_and_stays_bounded():
    from fusejit.live_calls import MAX_GUARD_SETS

    class Counter:
        def __init__(self):
            self.t = 0

        @jit
        def step(self, x):
            self.t += 1
            return x * self.t

    c = Counter()
    with pytest.warns(fusejit.RetraceWarning, match=r"self.t: 6 -> 7"):
        for k in range(1, MAX_GUARD_SETS + 5):
            np.testing.assert_array_equal(c.step(np.ones(2)), np.full(2, float(k)))
    assert c.t == MAX_GUARD_SETS + 4 and type(c.t) is int
    assert sum(map(len, Counter.step._cache.values())) == MAX_GUARD_SETS


def test_a_compiled_method_does_not_keep_its_object_alive():
    import gc
    import weakref

    layer = JitDense(3, 2, seed=7)
    layer.forward(np.ones((1, 3), np.float32))
    ref = weakref.ref(layer)
    del layer
    gc.collect()
    assert ref() is None


def scaled_from_module(x):
    live_helpers.last = live_helpers.lookup(x) * live_helpers.SCALE
    return live_helpers.last + live_helpers.TABLE


def test_attributes_of_user_modules_are_live_and_stores_replayed():
    f = jit(scaled_from_module)
    x = np.ones(3)
    np.testing.assert_array_equal(f(x), scaled_from_module(x))
    live_helpers.TABLE[:] = 5  # in place, read through `live_helpers.TABLE` and through lookup()'s global
    np.testing.assert_array_equal(f(x), (x + 5) * 2 + 5)
    assert type(live_helpers.last) is np.ndarray
    np.testing.assert_array_equal(live_helpers.last, (x + 5) * 2)
    old = live_helpers.SCALE
    try:
        live_helpers.SCALE = 3.0  # guarded: retrace
        np.testing.assert_array_equal(f(x), (x + 5) * 3 + 5)
        assert f.trace_count == 2
    finally:
        live_helpers.SCALE = old
        live_helpers.TABLE[:] = np.arange(3.0)


WEIGHTS = np.ones(3)


def test_default_arguments_are_live_state():
    def f(x, w=WEIGHTS, *, scale=2.0):
        return x * w * scale

    g = jit(f)
    np.testing.assert_array_equal(g(np.ones(3)), np.full(3, 2.0))
    WEIGHTS[:] = 4  # in place: the default is the same array
    np.testing.assert_array_equal(g(np.ones(3)), np.full(3, 8.0))
    f.__kwdefaults__ = {"scale": 3.0}  # a guarded scalar: retrace
    np.testing.assert_array_equal(g(np.ones(3)), np.full(3, 12.0))
    assert g.trace_count == 2 and f.__defaults__[0] is WEIGHTS
    WEIGHTS[:] = 1


def test_class_attributes_read_through_self_are_live():
    class Norm:
        EPS = 1e-3
        SHIFT = np.zeros(2)

        @jit
        def run(self, x):
            return x / (1 + self.EPS) + self.SHIFT

    n = Norm()
    x = np.ones(2)
    np.testing.assert_array_equal(n.run(x), x / (1 + 1e-3))
    Norm.SHIFT += 1  # in place, on the class
    Norm.EPS = 0.5  # rebound on the class: guarded
    np.testing.assert_array_equal(n.run(x), x / 1.5 + 1)
    n.EPS = 1.0  # an instance attribute now shadows it
    np.testing.assert_array_equal(n.run(x), x / 2 + 1)


class Config:
    SCALE = 2.0
    TABLE = np.arange(3.0)


def configured(x):
    return x * Config.SCALE + Config.TABLE


def test_class_attributes_read_through_the_class_are_live():
    f = jit(configured)
    x = np.ones(3)
    np.testing.assert_array_equal(f(x), configured(x))
    Config.TABLE += 1  # in place
    np.testing.assert_array_equal(f(x), configured(x))
    old = Config.SCALE
    try:
        Config.SCALE = 5.0  # rebound: guarded
        np.testing.assert_array_equal(f(x), configured(x))
        assert f.trace_count == 2
    finally:
        Config.SCALE = old
        Config.TABLE -= 1
    assert type(Config.TABLE) is np.ndarray
