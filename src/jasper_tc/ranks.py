"""This process's place among the processes of an ``accelerate launch`` / ``torchrun`` run (one if none).

Corpus-scale jobs (``teach``, sharded ``encode``) split work by rank alone: shard ``k`` belongs to rank
``k % world``, so no collective call is needed (and no process group: the launchers' ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` say everything), and a rerun with another process count still works.
"""

from __future__ import annotations

import os

__all__ = ["Ranks"]


class Ranks:
    """Rank, world size and local rank from the launcher's environment."""

    def __init__(self) -> None:
        try:
            self.world = int(os.environ.get("WORLD_SIZE", "1"))
            self.rank = int(os.environ.get("RANK", "0"))
            self.local_rank = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        except ValueError as error:
            raise ValueError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers: {error}") from None
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise ValueError(f"RANK={self.rank} does not fit WORLD_SIZE={self.world}")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mine(self, shards: int, done: set[int] | dict[int, object] = ()) -> list[int]:
        """This rank's unfinished shards of ``range(shards)``."""
        return [k for k in range(shards) if k % self.world == self.rank and k not in done]

    def device(self, requested: str | None) -> str | None:
        """The requested device, else this process's GPU under a multi-process launch (None: the default)."""
        if requested is None and self.world > 1:
            import torch

            if torch.cuda.is_available():
                return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        return requested
