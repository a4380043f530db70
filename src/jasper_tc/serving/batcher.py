"""One queue, a few model threads: forwards filled across concurrent requests, run off the event loop.

Each input of a request is an :class:`Item` with its own future, so a request larger than a forward is
simply spread over several and reassembled by awaiting its items. A forward takes the oldest waiting
input and, from the next waiting ones, those nearest its length (padding is waste, and on a CPU most of
the cost of mixed lengths), whatever their ratios (the pool takes one ratio per input, so a forward mixes
them), while its *padded tokens after compression* (what it costs) stay within ``max_batch_tokens``. It
waits at most ``max_wait_ms`` for company. Requests already accepted but still being tokenised are
company on its way (``arriving``): while there are any, a forward also waits up to ``max_wait_ms`` after
its thread's previous forward ended, so that one-text requests from many clients meet in one forward
instead of trickling through in small ones. Items whose request was abandoned (client gone) are dropped
before compute.

``workers`` model threads each take the next forward when free and answer its items as soon as it ends,
so clients send their next requests while other forwards run and the model never waits for a whole
round of clients to come back.

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
from itertools import islice

from torch import Tensor

from ..model import compressed_length

__all__ = ["Batcher", "Item", "Overloaded"]

COMPANION_WINDOW = 8  # a forward's companions are chosen among the oldest 8 x max_batch_size waiting inputs


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
        workers: int = 1,
        overload_tokens: int | None = None,
        overload_ratio: float = 0.33,
        on_batch: Callable[[int, int, int], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        """``embed(token_ids, ratios)`` runs one forward and returns its rows; ``max_batch_size``: inputs per
        forward; ``workers``: forwards that run at once, each in its own thread."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.embed = embed
        self.threshold = length_threshold
        self.max_batch_tokens, self.max_batch_size = max_batch_tokens, max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_tokens = max_queue_tokens
        self.overload_tokens, self.overload_ratio = overload_tokens, overload_ratio
        self.on_batch, self.on_drop = on_batch, on_drop
        self.workers = workers
        self.pending: deque[Item] = deque()
        self.queued_tokens = 0
        self.arriving = 0  # requests accepted and being tokenised: see expect() / submit()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="jasper-model")
        self._tasks: list[asyncio.Task] = []
        self._closing = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work(), name=f"jasper-model-{k}") for k in range(self.workers)]

    async def stop(self) -> None:
        """Finish every queued item, then stop (graceful shutdown)."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(*self._tasks)
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
        """The oldest waiting input and its companions nearest in cost (ties: the older), within budget."""
        while self.pending and self.pending[0].future.done():  # abandoned before it ran
            self._forget(self.pending.popleft())
        if not self.pending:
            return []
        window: list[Item] = []
        for item in list(islice(self.pending, COMPANION_WINDOW * self.max_batch_size)):
            if item.future.done():
                self.pending.remove(item)
                self._forget(item)
            else:
                window.append(item)
        oldest, cost = window[0], window[0].cost(self.threshold)
        batch, longest = [oldest], cost
        for item in sorted(window[1:], key=lambda other: abs(other.cost(self.threshold) - cost)):
            if len(batch) >= self.max_batch_size:
                break
            if max(longest, item.cost(self.threshold)) * (len(batch) + 1) <= self.max_batch_tokens:
                batch.append(item)
                longest = max(longest, item.cost(self.threshold))
        for item in batch:
            self.pending.remove(item)
            self.queued_tokens -= item.cost(self.threshold)
        return batch

    def _forget(self, item: Item) -> None:
        self.queued_tokens -= item.cost(self.threshold)
        if self.on_drop is not None:
            self.on_drop(1)

    def _full(self) -> bool:
        """Enough is waiting to fill a forward (by count, or by padded tokens)."""
        if len(self.pending) >= self.max_batch_size:
            return True
        costs = [item.cost(self.threshold) for item in self.pending]
        return bool(costs) and max(costs) * len(costs) >= self.max_batch_tokens

    def _deadline(self, free_since: float) -> float:
        """Until when the next batch waits for company (see the module's docstring)."""
        deadline = self.pending[0].enqueued + self.max_wait
        return max(deadline, free_since + self.max_wait) if self.arriving > 0 else deadline

    async def _next_forward(self, free_since: float) -> list[Item] | None:
        """The next forward, once full or waited enough; None: stopping, and nothing is left."""
        while True:
            if not self.pending:
                if self._closing:
                    return None
                self._wake.clear()
                await self._wake.wait()
                continue
            while (
                self.pending
                and not self._full()
                and not self._closing
                and (left := self._deadline(free_since) - time.monotonic()) > 0
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
            return batch

    async def _work(self) -> None:
        """One model thread's loop: take a forward, run it off the event loop, answer its items."""
        loop = asyncio.get_running_loop()
        free_since = time.monotonic()
        while (forward := await self._next_forward(free_since)) is not None:
            ids, ratios = [i.token_ids for i in forward], [i.ratio for i in forward]
            try:
                vectors = await loop.run_in_executor(self._executor, self.embed, ids, ratios)
            except Exception as error:  # the forward fails as a whole; the server keeps serving
                for item in forward:
                    if not item.future.done():
                        item.future.set_exception(error)
            else:
                for item, vector in zip(forward, vectors):
                    if not item.future.done():
                        item.future.set_result(vector)
            free_since = time.monotonic()
