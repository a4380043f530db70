"""The encoder: any supported model loaded behind one ``Encoder`` (``load``: this package's checkpoints,
the release's folder, hub names, sentence-transformers models), with prompts, token-length sorting,
token-budget batches, unsorting and normalisation; and whole files encoded to ``.npy`` or ``.parquet``,
streamed (``files``).

Imports only ``model`` and ``corpus``; knows nothing of HTTP, training or evaluation.
"""

from .backends import Backend, JasperBackend, SentenceTransformerBackend, UntrainedCompressionWarning
from .batching import plan_batches
from .encoder import Encoder, TokenCounts, TruncationWarning
from .files import check_files, encode_file
from .loading import load

__all__ = [
    "Backend",
    "Encoder",
    "JasperBackend",
    "SentenceTransformerBackend",
    "TokenCounts",
    "TruncationWarning",
    "UntrainedCompressionWarning",
    "check_files",
    "encode_file",
    "load",
    "plan_batches",
]
