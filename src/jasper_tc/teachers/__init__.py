"""Teacher embeddings: run teachers over a corpus into stores (resumable, one slice per rank),
project and fuse them into the distillation target. Imports ``encode``, ``store`` and ``corpus``.
"""

from .config import CorpusConfig, FusionConfig, TeachConfig, TeacherConfig, load_teach_config
from .projections import Projection, fit_pca, parse_projection
from .run import scan_corpus, teach

__all__ = [
    "CorpusConfig",
    "FusionConfig",
    "Projection",
    "TeachConfig",
    "TeacherConfig",
    "fit_pca",
    "load_teach_config",
    "parse_projection",
    "scan_corpus",
    "teach",
]
