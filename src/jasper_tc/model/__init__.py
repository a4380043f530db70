"""The Jasper-TC model: config, token compressor, pooling, the model class and its constructors.

Imports nothing else from the package; importing it registers ``jasper_tc`` with transformers'
Auto classes, so sentence-transformers and ``AutoModel`` can load saved checkpoints.
"""

from .builders import MlpInit, build_student, init_jasper_mlp, insert_jasper_mlp, keep_first_layers
from .compressor import (
    LENGTH_THRESHOLD,
    TokenCompressor,
    check_ratio,
    check_ratios,
    check_threshold,
    compress_tokens,
    compressed_length,
    compressed_lengths,
    fit_ratio,
)
from .config import DEFAULT_PROMPTS, JasperTCConfig
from .modeling import JasperTCModel, SwiGLU, register_auto_classes
from .packaged import resolve_model
from .pooling import mean_pool
from .release import load_jasper_config

register_auto_classes()

__all__ = [
    "DEFAULT_PROMPTS",
    "LENGTH_THRESHOLD",
    "JasperTCConfig",
    "JasperTCModel",
    "MlpInit",
    "SwiGLU",
    "TokenCompressor",
    "build_student",
    "check_ratio",
    "check_ratios",
    "check_threshold",
    "compress_tokens",
    "compressed_length",
    "compressed_lengths",
    "fit_ratio",
    "init_jasper_mlp",
    "insert_jasper_mlp",
    "keep_first_layers",
    "load_jasper_config",
    "mean_pool",
    "resolve_model",
]
