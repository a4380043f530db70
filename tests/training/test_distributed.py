"""Two gloo processes seeing the global batch give the single-process loss and gradients."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jasper_tc.training import gather, info_nce_loss, similarity_loss, soft_distillation_loss

WORLD, LOCAL, NEGATIVES = 2, 3, 2


def data():
    g = torch.Generator().manual_seed(0)
    n = WORLD * LOCAL
    return (
        torch.randn(n, 8, generator=g, dtype=torch.float64),  # student queries
        torch.randn(n * (1 + NEGATIVES), 8, generator=g, dtype=torch.float64),  # student documents
        torch.randn(n, 8, generator=g, dtype=torch.float64),  # teacher queries
        torch.randn(n * (1 + NEGATIVES), 8, generator=g, dtype=torch.float64),
    )  # teacher documents


def losses(q, d, tq, td, q_all, d_all, tq_all, td_all, first_query: int):
    positives = (torch.arange(len(q)) + first_query) * (1 + NEGATIVES)
    student_scores = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d_all, dim=-1).T
    teacher_scores = torch.nn.functional.normalize(tq, dim=-1) @ torch.nn.functional.normalize(td_all, dim=-1).T
    return (
        info_nce_loss(q, d_all, positives, 0.3)
        + 16 * soft_distillation_loss(student_scores, teacher_scores, 0.1)
        + 100 * similarity_loss(q, tq, q_all, tq_all)
    )


def worker(rank: int, port: int, queue) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    q, d, tq, td = data()
    rows = slice(rank * LOCAL, (rank + 1) * LOCAL)
    docs = slice(rank * LOCAL * (1 + NEGATIVES), (rank + 1) * LOCAL * (1 + NEGATIVES))
    q_local, d_local = q[rows].clone().requires_grad_(True), d[docs].clone().requires_grad_(True)
    loss = losses(
        q_local,
        d_local,
        tq[rows],
        td[docs],
        gather(q_local),
        gather(d_local),
        gather(tq[rows]),
        gather(td[docs]),
        first_query=rank * LOCAL,
    )
    loss.backward()
    # DDP averages gradients over ranks: the gathered gradient arriving here is the sum over ranks
    queue.put((rank, loss.item(), (q_local.grad / WORLD).tolist(), (d_local.grad / WORLD).tolist()))
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_concatenated_batch():
    q, d, tq, td = data()
    q, d = q.clone().requires_grad_(True), d.clone().requires_grad_(True)
    single = losses(q, d, tq, td, q, d, tq, td, first_query=0)
    single.backward()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    context = mp.get_context("spawn")
    queue = context.Queue()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    processes = [context.Process(target=worker, args=(rank, port, queue)) for rank in range(WORLD)]
    for process in processes:
        process.start()
    results = sorted(queue.get(timeout=120) for _ in range(WORLD))
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    mean_loss = sum(loss for _, loss, _, _ in results) / WORLD
    assert mean_loss == pytest.approx(single.item(), rel=1e-9)
    grad_q = torch.tensor([row for _, _, g, _ in results for row in g], dtype=torch.float64)
    grad_d = torch.tensor([row for _, _, _, g in results for row in g], dtype=torch.float64)
    torch.testing.assert_close(grad_q, q.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad_d, d.grad, rtol=1e-9, atol=1e-12)
