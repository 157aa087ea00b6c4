"""Dynamic batching: concurrent requests merged along the model's batch dimension into one call.

TensorFlow Serving's basic batch scheduler, with its parameters (:class:`.config.BatchingParameters`):

- a request (a *task* of ``rows`` rows) joins the open batch if it fits in ``max_batch_size`` and
  its inputs agree with the batch's past axis 0 (other symbolic dims); otherwise the open batch is
  closed and the task opens a new one. A task larger than
  ``max_batch_size`` is refused (:class:`TaskTooLarge`).
- the open batch closes when full or ``batch_timeout_micros`` after its first task arrived;
  ``num_batch_threads`` threads each take the oldest closed batch, concatenate the inputs along
  axis 0, pad to the next of ``allowed_batch_sizes`` (repeating the first row, as TF does: padding
  rows are computed and thrown away, so their values must only be valid inputs), make one call,
  and hand each task its own rows of every output.
- at most ``max_enqueued_batches`` batches wait (the open one included): a task that would need
  one more is refused at once (:class:`QueueFull`) instead of waiting behind a backlog.

The model call runs on the batch thread, never on the event loop, and releases the GIL while its
kernels run (see :mod:`.servable`). Results are delivered through each task's ``done`` callback;
the caller (the REST layer) forwards them to its event loop.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .config import BatchingParameters

log = logging.getLogger("fusejit.serve")

Done = Callable[[list[np.ndarray] | None, BaseException | None], None]


class QueueFull(RuntimeError):
    """The batch queue holds ``max_enqueued_batches`` batches already."""


class TaskTooLarge(ValueError):
    """A request with more rows than ``max_batch_size``."""


class Closed(RuntimeError):
    """The batcher of a version being unloaded: resolve the version again and resubmit."""


@dataclass
class _Task:
    arrays: list[np.ndarray]
    rows: int
    done: Done


@dataclass
class _Batch:
    deadline: float
    key: tuple  # the shapes past the batch axis: only tasks that agree on them can be concatenated
    tasks: list[_Task] = field(default_factory=list)
    rows: int = 0


@dataclass
class BatchStats:
    """Observers the batcher reports to (prometheus metrics in the server; no-ops by default)."""

    batch_size: Callable[[int, int], None] = lambda rows, padded: None
    queue_depth: Callable[[int], None] = lambda tasks: None


class Batcher:
    """Merges tasks for ``run`` (a list of input arrays -> a list of output arrays, all with the
    batch as axis 0)."""

    def __init__(self, run: Callable[[list[np.ndarray]], list[np.ndarray]], params: BatchingParameters,
                 name: str = "model", stats: BatchStats | None = None) -> None:
        self._run = run
        self.params = params
        self._stats = stats or BatchStats()
        self._cond = threading.Condition()
        self._open: _Batch | None = None
        self._closed: collections.deque[_Batch] = collections.deque()
        self._waiting_tasks = 0
        self._stopping = False
        self._timeout = params.batch_timeout_micros / 1e6
        self._threads = [threading.Thread(target=self._work, name=f"batch-{name}-{i}", daemon=True)
                         for i in range(params.num_batch_threads)]
        for t in self._threads:
            t.start()

    def submit(self, arrays: list[np.ndarray], rows: int, done: Done) -> None:
        """Queue one request of ``rows`` rows; ``done(outputs, None)`` or ``done(None, error)`` is
        called later on a batch thread. Raises QueueFull, TaskTooLarge or Closed at once."""
        p = self.params
        if rows > p.max_batch_size:
            raise TaskTooLarge(f"the request has {rows} rows, more than the batch size limit "
                               f"max_batch_size={p.max_batch_size}; send it in smaller parts")
        with self._cond:
            if self._stopping:
                raise Closed("this model version is being unloaded")
            b = self._open
            key = tuple(a.shape[1:] for a in arrays)
            if b is None or b.rows + rows > p.max_batch_size or b.key != key:
                if len(self._closed) + (b is not None) >= p.max_enqueued_batches:
                    raise QueueFull(f"the batch queue is full ({p.max_enqueued_batches} batches waiting, "
                                    "max_enqueued_batches); retry later")
                if b is not None:
                    self._closed.append(b)
                b = self._open = _Batch(time.monotonic() + self._timeout, key)
            b.tasks.append(_Task(arrays, rows, done))
            b.rows += rows
            self._waiting_tasks += 1
            if b.rows >= p.max_batch_size or self._timeout == 0 and not self._closed:
                self._closed.append(b)
                self._open = None
            self._cond.notify()
            depth = self._waiting_tasks
        self._stats.queue_depth(depth)

    def _next(self) -> _Batch | None:
        """The next batch to run (blocks); None once stopping and drained."""
        with self._cond:
            while True:
                if self._closed:
                    batch = self._closed.popleft()
                    break
                b = self._open
                if b is not None:
                    left = b.deadline - time.monotonic()
                    if left <= 0 or self._stopping:
                        self._open, batch = None, b
                        break
                    self._cond.wait(left)
                    continue
                if self._stopping:
                    return None
                self._cond.wait()
            self._waiting_tasks -= len(batch.tasks)
            depth = self._waiting_tasks
        self._stats.queue_depth(depth)
        return batch

    def _work(self) -> None:
        while (batch := self._next()) is not None:
            self._execute(batch)

    def _execute(self, batch: _Batch) -> None:
        tasks = batch.tasks
        try:
            if len(tasks) == 1 and not self.params.allowed_batch_sizes:
                merged = tasks[0].arrays
                padded = batch.rows
            else:
                padded = self.params.padded(batch.rows)
                merged = []
                for i in range(len(tasks[0].arrays)):
                    parts = [t.arrays[i] for t in tasks]
                    if padded > batch.rows:
                        first = parts[0][:1]
                        parts.append(np.broadcast_to(first, (padded - batch.rows, *first.shape[1:])))
                    merged.append(np.concatenate(parts) if len(parts) > 1 else parts[0])
            self._stats.batch_size(batch.rows, padded)
            outputs = self._run(merged)
        except BaseException as exc:  # noqa: BLE001 - every task learns why its batch failed
            log.exception("batch of %d request(s) failed", len(tasks))
            for t in tasks:
                _deliver(t, None, exc)
            return
        start = 0
        for t in tasks:
            stop = start + t.rows
            _deliver(t, [o[start:stop] for o in outputs], None)
            start = stop

    def close(self) -> None:
        """Refuse new tasks, finish every queued one, and stop the threads."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()


def _deliver(task: _Task, outputs: list[np.ndarray] | None, error: BaseException | None) -> None:
    try:
        task.done(outputs, error)
    except Exception:  # a caller gone (its loop closed) must not take the batch thread with it
        log.exception("delivering a batch result failed")
