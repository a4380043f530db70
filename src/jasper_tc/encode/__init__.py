"""The encoder: prompts, token-length sorting, token-budget batches, unsorting, normalisation.

Imports only ``jasper_tc.model``; knows nothing of HTTP or evaluation.
"""

from .backends import Backend, JasperBackend, SentenceTransformerBackend, UntrainedCompressionWarning
from .batching import plan_batches
from .encoder import Encoder, TokenCounts, TruncationWarning
from .loading import load

__all__ = [
    "Backend",
    "Encoder",
    "JasperBackend",
    "SentenceTransformerBackend",
    "TokenCounts",
    "TruncationWarning",
    "UntrainedCompressionWarning",
    "load",
    "plan_batches",
]
