"""One queue, one task: batches filled across concurrent requests, run off the event loop.

Each input of a request is an :class:`Item` with its own future, so a request larger than a batch is
simply spread over several batches and reassembled by awaiting its items. A batch takes the oldest
waiting items in arrival order, whatever their ratios (the pool takes one ratio per input, so a
forward mixes them), while the batch's *padded tokens after compression* (what the forward costs) stay
within ``max_batch_tokens``; it waits at most ``max_wait_ms`` for company. Requests already accepted but
still being tokenised are company on its way (``arriving``): while there are any, a batch also waits up
to ``max_wait_ms`` after the previous forward ended, so that one-text requests from many clients meet
in one forward instead of trickling through in small ones. Items whose request was abandoned (client
gone) are dropped before compute.

Under overload (more than ``overload_tokens`` queued, when enabled) the waiting items are compressed
harder — their ratio lowered to ``overload_ratio`` — before anything is rejected; each item records the
ratio it really ran at, and the response says so.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from torch import Tensor

from ..model import compressed_length

__all__ = ["Batcher", "Item", "Overloaded"]


class Overloaded(Exception):
    """The queue holds more work than the server accepts; retry after ``retry_after`` seconds."""

    def __init__(self, queued_tokens: int, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"the server is overloaded ({queued_tokens} tokens queued, limit {limit}); retry later")


@dataclass(eq=False)
class Item:
    token_ids: list[int]
    ratio: float  # the ratio it will run at (lowered under overload)
    requested_ratio: float
    future: asyncio.Future = field(repr=False)
    enqueued: float = 0.0

    def cost(self, threshold: int) -> int:
        return compressed_length(len(self.token_ids), self.ratio, threshold)


class Batcher:
    def __init__(
        self,
        embed: Callable[[list[list[int]], list[float]], Tensor],
        *,
        length_threshold: int,
        max_batch_tokens: int,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue_tokens: int,
        overload_tokens: int | None = None,
        overload_ratio: float = 0.33,
        on_batch: Callable[[int, int, int], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.embed = embed
        self.threshold = length_threshold
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_tokens = max_queue_tokens
        self.overload_tokens, self.overload_ratio = overload_tokens, overload_ratio
        self.on_batch, self.on_drop = on_batch, on_drop
        self.pending: deque[Item] = deque()
        self.queued_tokens = 0
        self.arriving = 0  # requests accepted and being tokenised: see expect() / submit()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jasper-model")  # one forward at a time
        self._task: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="jasper-batcher")

    async def stop(self) -> None:
        """Finish every queued item, then stop (graceful shutdown)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def expect(self, delta: int) -> None:
        """A request will submit soon (+1), or will not after all (-1); submit() counts its own arrival."""
        self.arriving += delta
        if delta < 0:
            self._wake.set()

    def submit(self, token_ids: list[list[int]], ratio: float | list[float], *, expected: bool = False) -> list[Item]:
        """Queue one request's inputs (one ratio for all, or one each); raises :class:`Overloaded` (nothing
        queued) when there is no room. ``expected``: the request announced itself with ``expect(1)``."""
        if expected:
            self.arriving -= 1
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        ratios = ratio if isinstance(ratio, list) else [ratio] * len(token_ids)
        items = [Item(ids, r, r, loop.create_future(), now) for ids, r in zip(token_ids, ratios)]
        self._degrade_if_overloaded(extra=items)
        cost = sum(item.cost(self.threshold) for item in items)
        if self.pending and self.queued_tokens + cost > self.max_queue_tokens:
            raise Overloaded(self.queued_tokens, self.max_queue_tokens, retry_after=1)
        self.pending.extend(items)
        self.queued_tokens += cost
        self._wake.set()
        return items

    def _degrade_if_overloaded(self, extra: list[Item] = ()) -> None:
        if self.overload_tokens is None:
            return
        incoming = sum(item.cost(self.threshold) for item in extra)
        if self.queued_tokens + incoming <= self.overload_tokens:
            return
        for item in (*self.pending, *extra):
            if item.ratio > self.overload_ratio:
                before = item.cost(self.threshold)
                item.ratio = self.overload_ratio
                if item not in extra:
                    self.queued_tokens -= before - item.cost(self.threshold)

    def _take_batch(self) -> list[Item]:
        while self.pending and self.pending[0].future.done():  # abandoned before it ran
            self._forget(self.pending.popleft())
        if not self.pending:
            return []
        batch: list[Item] = []
        longest = 0
        for item in list(self.pending):
            if item.future.done():
                self.pending.remove(item)
                self._forget(item)
                continue
            cost = item.cost(self.threshold)
            if batch and (
                len(batch) >= self.max_batch_size or max(longest, cost) * (len(batch) + 1) > self.max_batch_tokens
            ):
                break
            batch.append(item)
            longest = max(longest, cost)
        for item in batch:
            self.pending.remove(item)
            self.queued_tokens -= item.cost(self.threshold)
        return batch

    def _forget(self, item: Item) -> None:
        self.queued_tokens -= item.cost(self.threshold)
        if self.on_drop is not None:
            self.on_drop(1)

    def _full(self) -> bool:
        if not self.pending:
            return False
        costs = [item.cost(self.threshold) for item in self.pending]
        return len(costs) >= self.max_batch_size or max(costs) * len(costs) >= self.max_batch_tokens

    def _deadline(self, free_since: float) -> float:
        """Until when the next batch waits for company (see the module's docstring)."""
        deadline = self.pending[0].enqueued + self.max_wait
        return max(deadline, free_since + self.max_wait) if self.arriving > 0 else deadline

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            free_since = time.monotonic()
            while (
                not self._full() and not self._closing and (left := self._deadline(free_since) - time.monotonic()) > 0
            ):
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=left)
                except TimeoutError:
                    break
            self._degrade_if_overloaded()
            batch = self._take_batch()
            if not batch:
                continue
            if self.on_batch is not None:
                self.on_batch(
                    len(batch), sum(len(i.token_ids) for i in batch), sum(i.cost(self.threshold) for i in batch)
                )
            try:
                ids, ratios = [i.token_ids for i in batch], [i.ratio for i in batch]
                vectors = await loop.run_in_executor(self._executor, self.embed, ids, ratios)
            except Exception as error:  # the batch fails as a whole; the server keeps serving
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                continue
            for item, vector in zip(batch, vectors):
                if not item.future.done():
                    item.future.set_result(vector)
