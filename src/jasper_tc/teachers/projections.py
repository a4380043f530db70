"""Per-teacher projections applied before fusion, each followed by L2 normalisation.

- ``identity``
- ``truncate:D`` -- the first D dims (Matryoshka teachers, e.g. Qwen3-Embedding-8B -> 1024)
- ``segment_sum:KxD`` -- the first K*D dims as K blocks of D, summed (the report's QZhou-Embedding
  treatment: 3x1024 of 3584)
- ``pca:D`` -- the top D principal components, fitted on a sample and saved with the fused store
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Projection", "fit_pca", "normalize_rows", "parse_projection"]


@dataclass(frozen=True)
class Projection:
    kind: str  # identity | truncate | segment_sum | pca
    blocks: int = 1
    size: int | None = None  # output dims (None: identity)

    @property
    def needs(self) -> int:
        """Input dims this projection reads."""
        return 0 if self.size is None else self.blocks * self.size if self.kind != "pca" else self.size

    def output_dim(self, input_dim: int) -> int:
        if self.needs > input_dim:
            raise ValueError(f"projection needs {self.needs} input dims, the teacher has {input_dim}")
        return input_dim if self.size is None else self.size

    def apply(self, vectors: np.ndarray, pca: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``(n, D_in)`` -> ``(n, D_out)`` float32, L2-normalised."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.kind == "truncate":
            vectors = vectors[:, : self.size]
        elif self.kind == "segment_sum":
            vectors = vectors[:, : self.blocks * self.size].reshape(len(vectors), self.blocks, self.size).sum(axis=1)
        elif self.kind == "pca":
            if pca is None:
                raise ValueError("a pca projection needs its fitted (mean, components)")
            mean, components = pca
            vectors = (vectors - mean) @ components.T
        return normalize_rows(vectors)


def parse_projection(spec: str) -> Projection:
    """Read a projection spec; a malformed one is a ``ValueError`` listing the valid forms."""
    spec = spec.strip()
    if spec == "identity":
        return Projection("identity")
    if match := re.fullmatch(r"truncate:(\d+)", spec):
        return Projection("truncate", size=int(match[1]))
    if match := re.fullmatch(r"segment_sum:(\d+)x(\d+)", spec):
        return Projection("segment_sum", blocks=int(match[1]), size=int(match[2]))
    if match := re.fullmatch(r"pca:(\d+)", spec):
        return Projection("pca", size=int(match[1]))
    raise ValueError(f"unknown projection {spec!r}; use identity, truncate:D, segment_sum:KxD or pca:D")


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def fit_pca(sample: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and the top ``size`` components ``(size, D)`` of ``sample`` (rows), signs fixed."""
    if size > min(sample.shape):
        raise ValueError(f"pca:{size} needs at least {size} sample rows and dims, got {sample.shape}")
    sample = np.asarray(sample, dtype=np.float64)
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    components = vt[:size]
    components *= np.sign(components[np.arange(size), np.abs(components).argmax(axis=1)])[:, None]  # deterministic
    return mean.astype(np.float32), components.astype(np.float32)
