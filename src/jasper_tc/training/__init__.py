"""Training: one loop (``train``) driven by a per-stage config (``TrainConfig``); losses, schedules, data."""

from .config import TrainConfig, check_train_config, load_train_config, ratio_schedule
from .distributed import gather, rank_and_world
from .loop import TrainResult, train
from .losses import cosine_loss, info_nce_loss, mse_loss, similarity_loss, soft_distillation_loss
from .schedules import Algorithm2, Fixed, NoCompression, Ranges, RatioSchedule

__all__ = [
    "Algorithm2",
    "Fixed",
    "NoCompression",
    "Ranges",
    "RatioSchedule",
    "TrainConfig",
    "TrainResult",
    "check_train_config",
    "cosine_loss",
    "gather",
    "info_nce_loss",
    "load_train_config",
    "mse_loss",
    "rank_and_world",
    "ratio_schedule",
    "similarity_loss",
    "soft_distillation_loss",
    "train",
]
