"""Reading ahead: the next batches are read and normalized in a loader thread while the current one computes.

A ``Prefetcher`` wraps a ``load(index)`` function. ``get(index, upcoming)`` returns batch ``index``
(from the loader if it was asked for earlier, else loaded now, still on the loader thread) and asks
the loader for the first ``depth`` of ``upcoming``; requests no longer upcoming are dropped. So at
most ``depth`` batches wait in memory besides the one being handed out (a bounded queue), every
read happens on one thread in request order, and the values are exactly what ``load`` returns.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetcher(Generic[T]):
    """Loads batches on one background thread, at most ``depth`` ahead of the consumer."""

    def __init__(self, load: Callable[[int], T], depth: int = 2):
        if depth < 0:
            raise ValueError(f"prefetch depth must be >= 0, got {depth}")
        self._load = load
        self.depth = int(depth)
        self._pending: OrderedDict[int, Future[T]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def n_pending(self) -> int:
        """Batches requested ahead and not yet handed out (never more than ``depth``)."""
        return len(self._pending)

    def get(self, index: int, upcoming: Sequence[int] = ()) -> T:
        """Batch ``index``; then the first ``depth`` of ``upcoming`` are read ahead in order."""
        with self._lock:
            future = self._pending.pop(index, None)
            if self.depth == 0:
                return self._load(index)
            if future is None:
                future = self._submit(index)
            wanted = [i for i in upcoming[: self.depth] if i != index]
            for stale in [i for i in self._pending if i not in wanted]:
                self._pending.pop(stale).cancel()
            for ahead in wanted:
                if ahead not in self._pending:
                    self._pending[ahead] = self._submit(ahead)
        return future.result()

    def _submit(self, index: int) -> Future[T]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptycho-loader")
        return self._executor.submit(self._load, index)

    def close(self) -> None:
        """Drop requests ahead and end the loader thread (a later ``get`` starts a new one)."""
        with self._lock:
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
