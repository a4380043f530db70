"""The report's losses, as pure functions of tensors (they never call a model).

Across processes, a caller gathers the global batch (with gradient, see ``distributed.gather``) and
passes its local rows and the global tensors: each process's loss covers its own rows against the
whole batch, so the mean over processes equals the single-process loss on the concatenated batch.

| loss | inputs | formula |
|---|---|---|
| cosine_loss | student, teacher ``(B, D)`` | ``mean(1 - cos(s_i, t_i))`` |
| mse_loss | student, teacher ``(B, D)`` | ``mean(‖s_i - t_i‖²)``, raw rows (direction and norm) |
| similarity_loss | local ``(b, D)``, global ``(B, D)`` | ``MSE(s s_allᵀ, t t_allᵀ)``, normalised rows |
| info_nce_loss | queries ``(b, D)``, documents ``(M, D)``, positives ``(b,)`` | ``CE(q dᵀ / τ, positive)`` |
| soft_distillation_loss | score rows ``(b, M)`` twice | ``KL(softmax(t/α) ‖ softmax(s/α))`` |
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["cosine_loss", "info_nce_loss", "mse_loss", "similarity_loss", "soft_distillation_loss", "token_loss"]


def _wide(x: Tensor) -> Tensor:
    """At least float32 (bf16 embeddings are compared in float32; float64 stays float64)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def cosine_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``L_cos = mean_i (1 - cos(s_i, t_i))``; rows need not be normalised.

    >>> cosine_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]))
    tensor(1.)
    """
    return (1.0 - F.cosine_similarity(_wide(student), _wide(teacher), dim=-1)).mean()


def mse_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """``L_mse = mean_i ‖s_i - t_i‖²`` on the raw rows: it pulls the norm too, unlike the cosine.

    >>> mse_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]))
    tensor(5.)
    """
    return (_wide(student) - _wide(teacher)).pow(2).sum(dim=-1).mean()


def similarity_loss(
    student: Tensor, teacher: Tensor, student_all: Tensor | None = None, teacher_all: Tensor | None = None
) -> Tensor:
    """``L_sim = MSE(E_s E_sᵀ, E_t E_tᵀ)`` over in-batch Gram matrices of L2-normalised rows.

    With ``*_all`` (the gathered global batch) the local rows are compared against every row of it;
    without, the batch is its own whole.
    """
    s, t = F.normalize(_wide(student), dim=-1), F.normalize(_wide(teacher), dim=-1)
    s_all = s if student_all is None else F.normalize(_wide(student_all), dim=-1)
    t_all = t if teacher_all is None else F.normalize(_wide(teacher_all), dim=-1)
    return F.mse_loss(s @ s_all.T, t @ t_all.T)


def info_nce_loss(queries: Tensor, documents: Tensor, positives: Tensor, temperature: float = 0.3) -> Tensor:
    """InfoNCE: each query scored (cosine / τ) against every document of the batch, its positive the target.

    ``documents`` holds every query's positive and hard negatives (the global batch when gathered);
    ``positives[i]`` is the row of query ``i``'s positive in it.
    """
    scores = F.normalize(_wide(queries), dim=-1) @ F.normalize(_wide(documents), dim=-1).T / temperature
    return F.cross_entropy(scores, positives)


def soft_distillation_loss(student_scores: Tensor, teacher_scores: Tensor, alpha: float = 0.1) -> Tensor:
    """``KL(softmax(S_t/α) ‖ softmax(S_s/α))`` over each query's row of scores, averaged over rows.

    Scores are cosines of a query against all batch documents (teacher scores from the fused teacher
    vectors); the teacher side carries no gradient.
    """
    target = F.log_softmax(_wide(teacher_scores.detach()) / alpha, dim=-1)
    prediction = F.log_softmax(_wide(student_scores) / alpha, dim=-1)
    return F.kl_div(prediction, target, log_target=True, reduction="batchmean")


def token_loss(student: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """``1 - cos`` of each student token state to its target, averaged over the valid positions.

    ========== ============ =====================================================
    input      shape        meaning
    ========== ============ =====================================================
    student    ``(B, T, H)`` the student's last-layer states of its pooled tokens
    target     ``(B, T, H)`` the teacher's ratio-1 states pooled by the same windows
    mask       ``(B, T)``    1 where a pooled token is valid
    ========== ============ =====================================================
    """
    cosine = F.cosine_similarity(_wide(student), _wide(target), dim=-1)  # (B, T)
    valid = mask.to(cosine.dtype)
    return ((1.0 - cosine) * valid).sum() / valid.sum().clamp(min=1.0)
