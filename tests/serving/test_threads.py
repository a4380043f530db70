"""Torch threads shared out among forwards that run at once: all to one alone, a share to each of several."""

from __future__ import annotations

import threading

import pytest
import torch

from jasper_tc.serving.threads import ThreadShare


def test_a_lone_forward_gets_every_thread_and_concurrent_ones_their_share():
    before = torch.get_num_threads()
    share = ThreadShare(total=4, workers=2)
    try:
        assert share.run(torch.get_num_threads) == 4  # alone

        both_inside, seen = threading.Barrier(2, timeout=10), {}
        first_started = threading.Event()

        def first():
            def hold():
                first_started.set()
                both_inside.wait()  # the second forward starts while this one runs
                return torch.get_num_threads()

            seen["first"] = share.run(hold)

        def second():
            first_started.wait(timeout=10)
            seen["second"] = share.run(lambda: (both_inside.wait(), torch.get_num_threads())[1])

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert seen == {"first": 4, "second": 2}  # the first began alone; the second joined it: half
        assert share.running == 0
    finally:
        torch.set_num_threads(before)


def test_bad_counts_are_refused_by_name():
    with pytest.raises(ValueError, match="total and workers must be at least 1, got 4 and 0"):
        ThreadShare(total=4, workers=0)
