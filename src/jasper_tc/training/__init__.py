"""Training: losses (pure tensor functions), the global-batch gather, compression-ratio schedules."""

from .distributed import gather, rank_and_world
from .losses import cosine_loss, info_nce_loss, similarity_loss, soft_distillation_loss
from .schedules import Algorithm2, Fixed, NoCompression, Ranges, RatioSchedule

__all__ = [
    "Algorithm2",
    "Fixed",
    "NoCompression",
    "Ranges",
    "RatioSchedule",
    "cosine_loss",
    "gather",
    "info_nce_loss",
    "rank_and_world",
    "similarity_loss",
    "soft_distillation_loss",
]
