"""jasper-tc: token-compressed text embedding -- the Jasper-TC model, its training recipe and tools."""

from .encode import EncodeOptions, Encoder, TokenCounts, TruncationWarning, load
from .model import (
    DEFAULT_PROMPTS,
    JasperTCConfig,
    JasperTCModel,
    TokenCompressor,
    build_student,
    compress_tokens,
    compressed_length,
    insert_jasper_mlp,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_PROMPTS",
    "EncodeOptions",
    "Encoder",
    "JasperTCConfig",
    "JasperTCModel",
    "TokenCompressor",
    "TokenCounts",
    "TruncationWarning",
    "__version__",
    "build_student",
    "compress_tokens",
    "compressed_length",
    "insert_jasper_mlp",
    "load",
]
