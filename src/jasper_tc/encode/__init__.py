"""The encoder: any supported model loaded behind one ``Encoder`` (``load``: this package's checkpoints,
the release's folder, hub names, sentence-transformers models), with prompts, token-length sorting,
token-budget batches, unsorting and normalisation, every setting of a call in one ``EncodeOptions``; whole
files encoded to ``.npy`` or ``.parquet``, streamed (``files``); and corpora encoded into folders of shards
across processes (``sharded``: also how ``teach`` writes its stores).

Imports ``model``, ``corpus``, ``store``, ``ranks`` and ``atomic``; knows nothing of HTTP, training or evaluation.
"""

from .backends import Backend, JasperBackend, SentenceTransformerBackend, UntrainedCompressionWarning
from .batching import plan_batches
from .encoder import Encoder, PreparedInputs, TokenCounts, TruncationWarning
from .files import check_files, encode_file
from .loading import load
from .options import EncodeOptions

__all__ = [
    "Backend",
    "EncodeOptions",
    "Encoder",
    "JasperBackend",
    "PreparedInputs",
    "SentenceTransformerBackend",
    "TokenCounts",
    "TruncationWarning",
    "UntrainedCompressionWarning",
    "check_files",
    "encode_file",
    "load",
    "plan_batches",
]
