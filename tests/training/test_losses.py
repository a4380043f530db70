"""Each loss against a plain loop-by-loop reference; schedules are deterministic per step."""

from __future__ import annotations

import math

import pytest
import torch

from jasper_tc.training import (
    Algorithm2,
    Fixed,
    NoCompression,
    Ranges,
    cosine_loss,
    info_nce_loss,
    similarity_loss,
    soft_distillation_loss,
)


def batch(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def test_cosine_loss_matches_a_loop():
    s, t = batch(5, 7), batch(5, 7, seed=1)
    expected = sum(1 - sum(a * b for a, b in zip(unit(s[i].tolist()), unit(t[i].tolist()))) for i in range(5)) / 5
    assert cosine_loss(s, t).item() == pytest.approx(expected, rel=1e-6)


def test_similarity_loss_matches_a_loop_and_its_local_rows_average_to_the_whole():
    s, t = batch(6, 4), batch(6, 4, seed=1)
    su, tu = [unit(r.tolist()) for r in s], [unit(r.tolist()) for r in t]
    expected = (
        sum(
            (sum(a * b for a, b in zip(su[i], su[j])) - sum(a * b for a, b in zip(tu[i], tu[j]))) ** 2
            for i in range(6)
            for j in range(6)
        )
        / 36
    )
    assert similarity_loss(s, t).item() == pytest.approx(expected, rel=1e-6)
    halves = [similarity_loss(s[k : k + 3], t[k : k + 3], s, t) for k in (0, 3)]
    assert (sum(halves) / 2).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_matches_a_loop():
    n, k, tau = 3, 2, 0.3
    q, d = batch(n, 5), batch(n * (1 + k), 5, seed=1)
    positives = torch.arange(n) * (1 + k)
    expected = 0.0
    for i in range(n):
        scores = [sum(a * b for a, b in zip(unit(q[i].tolist()), unit(d[j].tolist()))) / tau for j in range(len(d))]
        log_z = math.log(sum(math.exp(x) for x in scores))
        expected += (log_z - scores[positives[i]]) / n
    assert info_nce_loss(q, d, positives, tau).item() == pytest.approx(expected, rel=1e-6)


def test_soft_distillation_matches_a_loop_and_teacher_gets_no_gradient():
    student, teacher = batch(3, 6).requires_grad_(True), batch(3, 6, seed=1).requires_grad_(True)
    alpha = 0.1
    expected = 0.0
    for i in range(3):
        zt = [x / alpha for x in teacher[i].tolist()]
        zs = [x / alpha for x in student[i].tolist()]
        pt = [math.exp(x - max(zt)) for x in zt]
        ps = [math.exp(x - max(zs)) for x in zs]
        pt, ps = [x / sum(pt) for x in pt], [x / sum(ps) for x in ps]
        expected += sum(a * math.log(a / b) for a, b in zip(pt, ps)) / 3
    loss = soft_distillation_loss(student, teacher, alpha)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert student.grad is not None and teacher.grad is None
    assert soft_distillation_loss(teacher, teacher, alpha).item() == pytest.approx(0.0, abs=1e-9)


def test_schedules_are_the_same_at_the_same_step_and_follow_algorithm_2():
    assert NoCompression().ratio(5) == 1.0 and Fixed(0.33).ratio(5) == 0.33
    a, b = Algorithm2(seed=7), Algorithm2(seed=7)
    assert [a.ratio(s) for s in range(50)] == [b.ratio(s) for s in range(50)]
    draws = [a.ratio(s) for s in range(20000)]
    exact = sum(r == 0.33333 for r in draws) / len(draws)
    low = sum(0.1 <= r < 0.33 for r in draws) / len(draws)
    high = sum(r >= 0.66 for r in draws) / len(draws)
    assert exact == pytest.approx(0.4, abs=0.02) and low == pytest.approx(0.1, abs=0.02)
    assert high == pytest.approx(0.2, abs=0.02) and min(draws) >= 0.1 and max(draws) <= 1.0
    with pytest.raises(ValueError, match="must sum to 1"):
        Ranges(((0.5, 0.2, 0.3),))
    with pytest.raises(ValueError, match=r"fixed ratio must be in \(0, 1\]"):
        Fixed(1.5)
