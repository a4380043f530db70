"""Damage injected into a file the way copies and disks damage them: bytes changed, the file cut short, gone."""

from __future__ import annotations

from pathlib import Path

FAULTS = ("flip", "truncate", "delete")


def inject(path: Path, fault: str) -> None:
    """``flip``: 16 bytes in the middle inverted (same size, same name); ``truncate``: cut to half its size;
    ``delete``: removed."""
    if fault == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if fault == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def folder_bytes(folder: Path, pattern: str = "shard-*") -> dict[str, bytes]:
    """Every matching file of ``folder`` by name: two folders made alike hold the same bytes."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).glob(pattern))}
