"""This process's place among the processes of an ``accelerate launch`` / ``torchrun`` run (one if none).

Corpus-scale jobs (``teach``, sharded ``encode``) split work by rank alone: shard ``k`` belongs to rank
``k % world``, so no collective call is needed and a rerun with another process count still works.
"""

from __future__ import annotations

import os

__all__ = ["Ranks"]


class Ranks:
    """Rank and world size from the launcher's environment (accelerate's state when there is more than one)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self._state = None
        if self.world > 1:
            from accelerate import PartialState

            self._state = PartialState()
            self.rank, self.world = self._state.process_index, self._state.num_processes
        else:
            self.rank = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mine(self, shards: int, done: set[int] | dict[int, object] = ()) -> list[int]:
        """This rank's unfinished shards of ``range(shards)``."""
        return [k for k in range(shards) if k % self.world == self.rank and k not in done]

    def device(self, requested: str | None) -> str | None:
        """The requested device, else this rank's GPU under a multi-GPU launch (None: the default)."""
        if requested is None and self._state is not None and self._state.device.type == "cuda":
            return str(self._state.device)
        return requested
