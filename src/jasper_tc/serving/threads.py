"""Torch's CPU threads for forwards that may run at once: all of them to one alone, a share to each of several.

One forward on every core stalls at each op's barrier whenever something else (the event loop, a
client) takes one of the cores, since the other threads wait for the paused one. Two forwards on half
the cores each lose only the one that was paused; yet a lone request's forward is fastest on all of
them. So each forward, as it starts, takes every thread if no other forward runs, else its share.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["ThreadShare"]

T = TypeVar("T")


class ThreadShare:
    """Run forwards from up to ``workers`` threads, each on the torch CPU threads it should have now."""

    def __init__(self, total: int, workers: int) -> None:
        if total < 1 or workers < 1:
            raise ValueError(f"total and workers must be at least 1, got {total} and {workers}")
        self.total, self.share = total, max(1, total // workers)
        self.running = 0
        self._lock = threading.Lock()

    def run(self, forward: Callable[..., T], *args) -> T:
        """``forward(*args)`` in the calling thread with all threads if it runs alone, else the share."""
        with self._lock:
            alone = self.running == 0
            self.running += 1
        # torch sets a thread's OpenMP team from the process-wide count at the thread's first use, which
        # would undo a count set before it: use it first, then set this thread's own.
        torch.get_num_threads()
        torch.set_num_threads(self.total if alone else self.share)
        try:
            return forward(*args)
        finally:
            with self._lock:
                self.running -= 1
