"""The Jasper-TC model: config, token compressor, pooling, the model class and its constructors.

Imports nothing else from the package; importing it registers ``jasper_tc`` with transformers'
Auto classes, so sentence-transformers and ``AutoModel`` can load saved checkpoints.
"""

from . import compressor
from .builders import (
    MlpInit,
    build_student,
    configure_compression,
    init_jasper_mlp,
    insert_jasper_mlp,
    keep_first_layers,
)
from .compressor import *  # noqa: F403 -- the compressor's public names, listed in its __all__
from .config import DEFAULT_PROMPTS, JasperTCConfig
from .modeling import JasperTCModel, SwiGLU, register_auto_classes
from .packaged import resolve_model
from .pooling import mean_pool, source_positions, span_means
from .release import load_jasper_config

register_auto_classes()

__all__ = [
    *compressor.__all__,
    "DEFAULT_PROMPTS",
    "JasperTCConfig",
    "JasperTCModel",
    "MlpInit",
    "SwiGLU",
    "build_student",
    "configure_compression",
    "init_jasper_mlp",
    "insert_jasper_mlp",
    "keep_first_layers",
    "load_jasper_config",
    "mean_pool",
    "resolve_model",
    "source_positions",
    "span_means",
]
