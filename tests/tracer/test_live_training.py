"""A class-based NumPy training loop (layers in a list on the model, a momentum optimizer keeping
velocities in a dict keyed by tuples, the loss history in a list), its step jitted, interleaved
with plain NumPy steps on the same objects: the model ends as NumPy leaves it."""

from __future__ import annotations

import numpy as np

import fusejit


class Dense:
    def __init__(self, n_in, n_out, rng):
        self.W = (rng.standard_normal((n_in, n_out)) * 0.1)
        self.b = np.zeros(n_out)
    def forward(self, X):
        self.X = X
        return X @ self.W + self.b
    def backward(self, dY):
        self.dW = self.X.T @ dY
        self.db = dY.sum(axis=0)
        return dY @ self.W.T
class ReLU:
    def forward(self, X):
        self.mask = X > 0
        return X * self.mask
    def backward(self, dY):
        return dY * self.mask
class Momentum:
    def __init__(self, lr=0.05, mu=0.9):
        self.lr, self.mu, self.v = lr, mu, {}
    def step(self, layers):
        for i, l in enumerate(layers):
            if not hasattr(l, "W"):
                continue
            for name in ("W", "b"):
                key = (i, name)
                if key not in self.v:
                    self.v[key] = np.zeros_like(getattr(l, name))
                self.v[key] = self.mu * self.v[key] - self.lr * getattr(l, "d" + name)
                p = getattr(l, name)
                p += self.v[key]
class Model:
    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = [Dense(8, 16, rng), ReLU(), Dense(16, 3, rng)]
        self.opt = Momentum()
        self.losses = []
    def train_step(self, X, y):
        h = X
        for l in self.layers:
            h = l.forward(h)
        z = h - h.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(p[np.arange(n), y]).mean()
        d = p.copy()
        d = d - (np.arange(3) == y[:, None])
        d /= n
        for l in reversed(self.layers):
            d = l.backward(d)
        self.opt.step(self.layers)
        self.losses.append(loss)
        return loss
class JModel(Model):
    train_step = fusejit.jit(Model.train_step)


def test_training_loop_on_objects_matches_numpy():
    rng = np.random.default_rng(1)
    plain, fast = Model(), JModel()
    for step in range(12):
        X = rng.standard_normal((32, 8))
        y = rng.integers(0, 3, 32)
        np.testing.assert_allclose(fast.train_step(X, y), plain.train_step(X, y), rtol=1e-12)
        if step % 5 == 4:  # a plain NumPy step on the jitted model's objects
            Model.train_step(fast, X, y)
            Model.train_step(plain, X, y)
    for a, b in zip(plain.layers[::2], fast.layers[::2]):
        np.testing.assert_allclose(b.W, a.W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b.dW, a.dW, rtol=1e-12, atol=1e-15)
    assert type(fast.layers[1].mask) is np.ndarray and fast.layers[1].mask.dtype == bool
    assert list(fast.opt.v) == list(plain.opt.v) and len(fast.losses) == len(plain.losses) == 14
    # a loss appended by a jitted step is a 0-d array (fusejit returns 0-d results as arrays), NumPy's a scalar
    assert all(isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0 for v in fast.losses)
    np.testing.assert_allclose(np.array(fast.losses, float), np.array(plain.losses, float), rtol=1e-12)
    assert JModel.train_step.trace_count == 2  # the first step creates the velocities: then one program
