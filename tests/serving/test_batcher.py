"""The batcher alone, with a fake model: mixed ratios, the token budget, the wait, departed clients.

No model and no HTTP: the fake records every forward it is asked for, and its row for an input is the
input's tag (its first token id), so a test can tell which input landed in which forward and which vector
came back to which future.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
import torch

from jasper_tc.model import compressed_length
from jasper_tc.serving.batcher import Batcher, Overloaded

LIMITS = dict(
    length_threshold=80, max_batch_tokens=100_000, max_batch_size=64, max_wait_ms=20, max_queue_tokens=1_000_000
)


@dataclass
class Forward:
    ratios: list[float]
    tags: list[int]
    at: float  # time.monotonic() when it started


class FakeModel:
    """Stands in for ``Encoder.embed_batch``: records each call; an input's vector is its tag, 4 times.
    A tag's entry in ``delays`` makes a forward holding it take that long."""

    def __init__(self, delays: dict[int, float] | None = None) -> None:
        self.forwards: list[Forward] = []
        self.delays = delays or {}

    def __call__(self, token_ids: list[list[int]], ratios: list[float]) -> torch.Tensor:
        self.forwards.append(Forward(list(ratios), [ids[0] for ids in token_ids], time.monotonic()))
        time.sleep(max((self.delays.get(ids[0], 0.0) for ids in token_ids), default=0.0))
        return torch.tensor([[float(ids[0])] * 4 for ids in token_ids])


def tagged(tag: int, length: int) -> list[int]:
    return [tag] * length


def run(scenario, delays=None, **limits):
    """Run ``scenario(batcher)`` on a fresh event loop with a started batcher, then stop it (queue drained).

    Returns the fake model, the ``on_drop`` and ``on_batch`` calls, and what the scenario returned.
    """
    model, drops, batches = FakeModel(delays), [], []

    async def main():
        batcher = Batcher(
            model, **{**LIMITS, **limits}, on_drop=drops.append, on_batch=lambda *sizes: batches.append(sizes)
        )
        batcher.start()
        try:
            return await asyncio.wait_for(scenario(batcher), timeout=30)
        finally:
            await batcher.stop()

    result = asyncio.run(main())
    return model, drops, batches, result


async def vectors_of(items) -> list[float]:
    return [vector[0].item() for vector in await asyncio.gather(*(item.future for item in items))]


def test_inputs_of_any_ratio_share_a_forward_each_at_its_own_ratio():
    async def scenario(batcher):
        items = []
        for tag in range(1, 9):  # one input per request, the ratios interleaved
            items += batcher.submit([tagged(tag, 5)], 0.5 if tag % 2 else 1.0)
        items += batcher.submit([tagged(9, 5), tagged(10, 5)], [0.2, 0.7])  # one ratio per input (fit)
        return await vectors_of(items)

    model, drops, _, vectors = run(scenario, max_wait_ms=50)
    # one forward, in arrival order; the model gets each input's own ratio
    assert [f.tags for f in model.forwards] == [list(range(1, 11))]
    assert model.forwards[0].ratios == [0.5, 1.0] * 4 + [0.2, 0.7]
    assert vectors == list(range(1, 11))
    assert drops == []


def test_the_token_budget_counts_padded_tokens_after_compression():
    assert compressed_length(1000, 0.1, 80) == 172  # 80 + (1000 - 80) * 0.1

    async def five_long(batcher):
        return await vectors_of(batcher.submit([tagged(tag, 1000) for tag in range(1, 6)], 0.1))

    model, _, batches, vectors = run(five_long, max_batch_tokens=400)
    # 2 x 172 = 344 fits in 400 (though 2000 tokens before compression); 3 x 172 = 516 does not
    assert [f.tags for f in model.forwards] == [[1, 2], [3, 4], [5]]
    assert batches == [(2, 2000, 344), (2, 2000, 344), (1, 1000, 172)]  # (inputs, tokens, after compression)
    assert vectors == [1, 2, 3, 4, 5]

    async def long_then_short(batcher):
        items = batcher.submit([tagged(1, 1000), tagged(2, 10), tagged(3, 10)], 0.1)
        return await vectors_of(items)

    model, _, _, _ = run(long_then_short, max_batch_tokens=400)
    # padded: beside a 172-token input a 10-token one costs 172 too; 172 + 10 + 10 would fit, 3 x 172 does not
    assert [f.tags for f in model.forwards] == [[1, 2], [3]]

    async def each_over_budget(batcher):
        return await vectors_of(batcher.submit([tagged(1, 1000), tagged(2, 1000)], 1.0))

    model, _, _, _ = run(each_over_budget, max_batch_tokens=400)
    assert [f.tags for f in model.forwards] == [[1], [2]]  # an input over the budget still runs, alone


def test_a_lone_input_waits_max_wait_ms_for_company_and_a_full_batch_does_not():
    async def lone(batcher):
        [item] = batcher.submit([tagged(1, 5)], 0.5)
        await item.future
        return item.enqueued

    model, _, _, enqueued = run(lone, max_wait_ms=300)
    waited = model.forwards[0].at - enqueued
    assert 0.29 <= waited < 3.0, waited  # not before max_wait_ms; the upper bound is only a sanity check

    async def full(batcher):
        items = batcher.submit([tagged(tag, 5) for tag in range(1, 5)], 0.5)
        await vectors_of(items)
        return items[0].enqueued

    model, _, _, enqueued = run(full, max_wait_ms=10_000, max_batch_size=4)
    assert model.forwards[0].at - enqueued < 5.0  # far below the 10 s it would wait for company


def test_a_batch_waits_for_requests_still_being_tokenised():
    """After a forward, the next batch waits for announced requests (expect(1)) up to max_wait_ms after the
    batcher became free, even when its oldest item has waited longer than that."""

    async def scenario(batcher):
        [first] = batcher.submit([tagged(1, 5)], 0.5)
        await first.future  # a forward ran; the batcher is free again
        batcher.expect(1)  # one request is tokenising...
        await asyncio.sleep(0.3)  # ...while an old-enough item queues
        batcher.expect(1)
        [old] = batcher.submit([tagged(2, 5)], 0.5, expected=True)
        await asyncio.sleep(0.1)  # the second announced request arrives later, within max_wait_ms
        [late] = batcher.submit([tagged(3, 5)], 0.5, expected=True)
        return await vectors_of([old, late]), batcher.arriving

    model, _, _, (vectors, arriving) = run(scenario, max_wait_ms=250)
    assert [f.tags for f in model.forwards] == [[1], [2, 3]]  # without the wait: [[1], [2], [3]]
    assert vectors == [2, 3] and arriving == 0


def test_inputs_of_departed_clients_are_dropped_before_compute():
    async def scenario(batcher):
        first = batcher.submit([tagged(1, 5)], 0.5)  # at the head of the queue
        kept = batcher.submit([tagged(2, 5)], 0.5)
        middle = batcher.submit([tagged(3, 5), tagged(4, 5)], 0.5)  # a request of two inputs, mid-queue
        last = batcher.submit([tagged(5, 5)], 0.5)
        for item in first + middle:  # what the server does when their clients disconnect
            item.future.cancel()
        vectors = await vectors_of(kept + last)
        return vectors, batcher.queued_tokens, len(batcher.pending)

    model, drops, _, (vectors, queued_tokens, pending) = run(scenario, max_wait_ms=50)
    assert [f.tags for f in model.forwards] == [[2, 5]]
    assert vectors == [2, 5]
    assert drops == [1, 1, 1]  # on_drop(1) for each dropped input
    assert queued_tokens == 0 and pending == 0


def test_a_request_that_overflows_the_queue_is_refused_whole():
    async def scenario(batcher):
        accepted = batcher.submit([tagged(1, 100)], 1.0)
        with pytest.raises(Overloaded) as refused:
            batcher.submit([tagged(2, 5), tagged(3, 100)], 1.0)  # 100 + 105 > 150
        state = len(batcher.pending), batcher.queued_tokens, refused.value.retry_after
        await vectors_of(accepted)
        return state

    model, _, _, state = run(scenario, max_queue_tokens=150)
    assert state == (1, 100, 1)  # nothing of the refused request was queued
    assert [f.tags for f in model.forwards] == [[1]]


def test_a_forward_takes_the_oldest_input_and_the_waiting_ones_nearest_its_length():
    async def scenario(batcher):
        lengths = {1: 50, 2: 10, 3: 200, 4: 48, 5: 12, 6: 195}
        items = batcher.submit([tagged(tag, n) for tag, n in lengths.items()], 1.0)
        return await vectors_of(items)

    model, _, _, vectors = run(scenario, max_batch_size=2)
    # in arrival order the pairs would pad 10 to 50, 48 to 200 and 12 to 195
    assert [f.tags for f in model.forwards] == [[1, 4], [2, 5], [3, 6]]
    assert vectors == [1, 2, 3, 4, 5, 6]


def test_model_threads_run_forwards_side_by_side_and_answer_each_when_it_ends():
    """Two model threads: a slow forward does not hold back the next one, nor its answers."""

    async def scenario(batcher):
        slow = batcher.submit([tagged(1, 5)], 1.0)
        await asyncio.sleep(0.05)  # the slow forward has started
        quick = batcher.submit([tagged(2, 5)], 1.0)
        await vectors_of(quick)
        return slow[0].future.done()

    model, _, _, slow_done = run(scenario, delays={1: 1.0}, workers=2, max_batch_size=1, max_wait_ms=0)
    assert [f.tags for f in model.forwards] == [[1], [2]]
    assert model.forwards[1].at - model.forwards[0].at < 0.5  # started while the slow one ran
    assert not slow_done  # the quick one was answered first

    model, _, _, slow_done = run(scenario, delays={1: 1.0}, workers=1, max_batch_size=1, max_wait_ms=0)
    assert model.forwards[1].at - model.forwards[0].at >= 0.95 and slow_done  # one thread: in turn


def test_workers_must_be_at_least_one():
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        Batcher(FakeModel(), **LIMITS, workers=0)
