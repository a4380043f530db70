"""Encoding a file to a file, streamed in chunks, so inputs larger than memory work.

Output ``.npy`` (rows in input order, written into a memory map) or ``.parquet`` (``id`` and
``embedding`` columns, one row group per chunk). Written under a temporary name and renamed at the
end, so a killed run never leaves a file that looks finished.
"""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..corpus import count_records, iter_records
from .encoder import Encoder
from .options import EncodeOptions

__all__ = ["check_files", "encode_file"]

OUTPUT_FORMATS = (".npy", ".parquet")


def check_files(
    input_path: str | os.PathLike, output_path: str | os.PathLike, text_field: str = "text", id_field: str | None = None
) -> None:
    """Fail before any model loads: the output type, and the input's type and first record."""
    if Path(output_path).suffix not in OUTPUT_FORMATS:
        raise ValueError(f"--output must end in {' or '.join(OUTPUT_FORMATS)}, got {Path(output_path).name!r}")
    next(iter_records(input_path, text_field, id_field), None)


def encode_file(
    encoder: Encoder,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    options: EncodeOptions | None = None,
    *,
    text_field: str = "text",
    id_field: str | None = None,
    chunk_size: int = 4096,
    show_progress_bar: bool = True,
    segments: bool = False,
) -> int:
    """Embed every record of ``input_path`` into ``output_path``; return the number of rows written.

    ``segments``: a row per window or segment of each text (``encode(..., return_segments=True)``), with
    its number in a ``segment`` column, for multi-vector retrieval; Parquet only (the rows are ragged)."""
    check_files(input_path, output_path, text_field, id_field)
    if segments and Path(output_path).suffix != ".parquet":
        raise ValueError(f"segments: one row per segment needs a .parquet output, not {output_path}")
    output_path = Path(output_path)
    encoder.check(options or EncodeOptions())  # bad options: an error before the first chunk
    total = count_records(input_path)  # also checks the file's type and encoding up front
    records = iter_records(input_path, text_field, id_field)
    tmp = output_path.with_name(f".{output_path.name}.partial")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    progress = tqdm(total=total, desc=f"encode {Path(input_path).name}", unit="text", disable=not show_progress_bar)
    written = 0
    try:
        if output_path.suffix == ".npy":
            matrix = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, encoder.dimension))
            while chunk := list(islice(records, chunk_size)):
                matrix[written : written + len(chunk)] = encoder.encode(
                    [t for _, t in chunk], options, show_progress_bar=False
                )
                written += len(chunk)
                progress.update(len(chunk))
            matrix.flush()
            del matrix
        else:
            written = _write_parquet(encoder, records, tmp, options, chunk_size, segments, progress)
        os.replace(tmp, output_path)
    finally:
        progress.close()
        if tmp.exists():
            tmp.unlink()
    return written


def _write_parquet(encoder: Encoder, records, path: Path, options, chunk_size: int, segments: bool, progress) -> int:
    """``(id, embedding)`` rows, or ``(id, segment, embedding)`` a row per segment; the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [("id", pa.string()), *([("segment", pa.int32())] if segments else [])]
    schema = pa.schema([*fields, ("embedding", pa.list_(pa.float32(), encoder.dimension))])
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        while chunk := list(islice(records, chunk_size)):
            texts, columns = [t for _, t in chunk], {"id": [i for i, _ in chunk]}
            if segments:
                parts = encoder.encode(texts, options, return_segments=True, show_progress_bar=False)
                columns = {
                    "id": [i for (i, _), p in zip(chunk, parts) for _ in range(len(p))],
                    "segment": [k for p in parts for k in range(len(p))],
                }
                vectors = np.concatenate(parts)
            else:
                vectors = encoder.encode(texts, options, show_progress_bar=False)
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, encoder.dimension)
            writer.write_table(pa.table(columns, schema=schema))
            written += len(vectors)
            progress.update(len(chunk))
    return written
