"""Teacher embeddings: run teachers over a corpus into stores (resumable, one slice per rank),
project and fuse them into the distillation target; mine hard negatives for stage 4. Imports
``encode``, ``store``, ``corpus`` and ``atomic``.
"""

from .config import FusionConfig, TeachConfig, TeacherConfig, load_teach_config
from .projections import Projection, fit_pca, parse_projection
from .run import teach

__all__ = [
    "FusionConfig",
    "Projection",
    "TeachConfig",
    "TeacherConfig",
    "fit_pca",
    "load_teach_config",
    "parse_projection",
    "teach",
]
