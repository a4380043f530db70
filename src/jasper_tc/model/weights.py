"""Weight files checked before they load: a ``.safetensors`` file cut short (an interrupted copy, a full
disk) is named by its path and its expected size, never a deserialisation error from deep inside a
library or, worse, a model built from what was there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["DamagedWeights", "check_weight_files"]


class DamagedWeights(OSError):
    """A weight file is not whole; the message names it, its size and the size its own header describes."""


def _problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return f"{size} bytes, too short to be a safetensors file"
        length = int.from_bytes(head, "little")
        if length > size - 8:
            return f"{size} bytes, but its header alone takes {8 + length}"
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return "its header is not readable"
    end = max((entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"), default=0)
    if size != 8 + length + end:
        return f"{size} bytes, but its header describes {8 + length + end}"
    return None


def check_weight_files(folder: str | os.PathLike) -> None:
    """Every ``.safetensors`` file under a local model folder is as long as its header says (reads headers
    only); a damaged one is a :class:`DamagedWeights` naming it."""
    for path in sorted(Path(folder).expanduser().rglob("*.safetensors")):
        problem = _problem(path)
        if problem:
            raise DamagedWeights(f"{path} is damaged ({problem}): copy the model folder again")
