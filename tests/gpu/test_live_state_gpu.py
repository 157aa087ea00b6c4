"""Live state on the GPU backend (simulator): captured arrays read at each call, stores replayed
with host arrays, in-place updates of captured arrays written back — as on the CPU."""

from __future__ import annotations

import numpy as np

from fusejit import jit


class Layer:
    def __init__(self):
        self.W = np.ones((3, 2))
        self.b = np.zeros(2)
        self.outputs = []

    def forward(self, X):
        self.X = X
        y = X @ self.W + self.b
        self.outputs.append(y)
        self.W *= 2
        return y


def test_live_state_on_the_gpu_simulator(sim) -> None:
    gpu, cpu = Layer(), Layer()
    f = jit(Layer.forward, device="gpu")
    X = np.arange(6.0).reshape(2, 3)
    W0 = gpu.W
    for step in range(3):
        np.testing.assert_array_equal(np.asarray(f(gpu, X)), Layer.forward(cpu, X))
        if step == 1:
            gpu.b = cpu.b = np.full(2, 5.0)  # rebinding between calls: read live
    assert gpu.W is W0
    np.testing.assert_array_equal(gpu.W, cpu.W)
    assert all(type(y) is np.ndarray for y in gpu.outputs) and type(gpu.X) is np.ndarray
    np.testing.assert_array_equal(np.array(gpu.outputs), np.array(cpu.outputs))
