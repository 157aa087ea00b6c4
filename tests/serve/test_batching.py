"""The batch scheduler on its own: merging, padding, the bounded queue, draining on close."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fusejit.serve.batching import Batcher, BatchStats, Closed, QueueFull, TaskTooLarge
from fusejit.serve.config import BatchingParameters


class Recorder:
    """A model (y = 2x, plus the row count) that records the batch sizes it was called with."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[np.ndarray] = []
        self.gate = gate

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if self.gate is not None:
            self.gate.wait(10)
        self.calls.append(arrays[0].copy())
        return [arrays[0] * 2, np.full(len(arrays[0]), len(arrays[0]))]


class Results:
    def __init__(self, n: int) -> None:
        self.got: dict[int, tuple] = {}
        self.all = threading.Event()
        self.n = n
        self.lock = threading.Lock()

    def callback(self, key: int):
        def done(outputs, error) -> None:
            with self.lock:
                self.got[key] = (outputs, error)
                if len(self.got) == self.n:
                    self.all.set()
        return done


def test_concurrent_requests_merge_into_one_call_and_split_back() -> None:
    model = Recorder()
    sizes: list[tuple[int, int]] = []
    b = Batcher(model, BatchingParameters(max_batch_size=16, batch_timeout_micros=200_000, num_batch_threads=1),
                stats=BatchStats(batch_size=lambda rows, padded: sizes.append((rows, padded))))
    res = Results(3)
    inputs = [np.full((n, 2), k, np.float32) for k, n in enumerate((1, 3, 2))]
    for k, x in enumerate(inputs):
        b.submit([x], len(x), res.callback(k))
    assert res.all.wait(10)
    b.close()
    assert [len(c) for c in model.calls] == [6] and sizes == [(6, 6)]
    for k, x in enumerate(inputs):
        outputs, error = res.got[k]
        assert error is None
        np.testing.assert_array_equal(outputs[0], x * 2)
        assert outputs[1].tolist() == [6] * len(x)


def test_full_batches_close_at_once_and_pad_to_allowed_sizes() -> None:
    model = Recorder()
    params = BatchingParameters(max_batch_size=8, batch_timeout_micros=10_000_000, num_batch_threads=1,
                                allowed_batch_sizes=(4, 8))
    b = Batcher(model, params)
    full, res = Results(1), Results(1)
    b.submit([np.arange(8, dtype=np.float32).reshape(8, 1)], 8, full.callback(0))
    assert full.all.wait(5)  # a full batch runs at once, long before its 10 s timeout
    b.submit([np.array([[5], [6], [7]], np.float32)], 3, res.callback(0))
    b.close()  # closing runs the open (timed) batch at once
    assert [len(c) for c in model.calls] == [8, 4]
    np.testing.assert_array_equal(model.calls[1][:, 0], [5, 6, 7, 5])  # padded with the first row
    np.testing.assert_array_equal(res.got[0][0][0][:, 0], [10, 12, 14])


def test_requests_with_other_trailing_shapes_are_not_merged() -> None:
    model = Recorder()
    b = Batcher(model, BatchingParameters(max_batch_size=16, batch_timeout_micros=100_000, num_batch_threads=1))
    res = Results(2)
    b.submit([np.ones((2, 3), np.float32)], 2, res.callback(0))
    b.submit([np.ones((1, 5), np.float32)], 1, res.callback(1))
    assert res.all.wait(10)
    b.close()
    assert sorted(c.shape for c in model.calls) == [(1, 5), (2, 3)]


def test_the_queue_is_bounded_and_refuses_at_once() -> None:
    gate = threading.Event()
    model = Recorder(gate)
    b = Batcher(model, BatchingParameters(max_batch_size=2, batch_timeout_micros=0, num_batch_threads=1,
                                          max_enqueued_batches=2))
    res = Results(5)
    x = np.ones((2, 1), np.float32)
    b.submit([x], 2, res.callback(0))  # taken by the (blocked) batch thread
    for _ in range(100):
        if not b._closed:
            break
        threading.Event().wait(0.01)
    b.submit([x], 2, res.callback(1))
    b.submit([x], 2, res.callback(2))
    with pytest.raises(QueueFull, match="max_enqueued_batches"):
        b.submit([x], 2, res.callback(3))
    with pytest.raises(TaskTooLarge, match="max_batch_size=2"):
        b.submit([np.ones((3, 1), np.float32)], 3, res.callback(4))
    gate.set()
    b.close()
    assert sorted(res.got) == [0, 1, 2] and all(e is None for _, e in res.got.values())
    with pytest.raises(Closed):
        b.submit([x], 2, res.callback(5))


def test_a_failing_call_fails_its_tasks_and_the_thread_lives_on() -> None:
    calls = []

    def model(arrays):
        calls.append(len(arrays[0]))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return [arrays[0]]

    b = Batcher(model, BatchingParameters(max_batch_size=4, num_batch_threads=1))
    first, second = Results(1), Results(1)
    b.submit([np.ones((1, 1))], 1, first.callback(0))
    assert first.all.wait(10)
    b.submit([np.ones((1, 1))], 1, second.callback(0))
    assert second.all.wait(10)
    b.close()
    assert isinstance(first.got[0][1], RuntimeError) and second.got[0][1] is None


def test_the_compiled_entry_releases_the_gil() -> None:
    """Batch threads overlap with the event loop only if a model call drops the GIL: the JIT's
    entry must stay a ctypes CFUNCTYPE (PYFUNCTYPE would hold the GIL through every kernel)."""
    import ctypes

    from fusejit.driver import compile_graph

    from .conftest import linear_graph

    exe = compile_graph(linear_graph(1), backend="cpu")
    assert not type(exe._fn)._flags_ & ctypes._FUNCFLAG_PYTHONAPI
