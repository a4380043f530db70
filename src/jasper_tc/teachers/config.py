"""The ``jasper-tc teach`` config: a corpus, teachers, an output folder, and optionally their fusion.

Example (``configs/teachers/jasper-600m.yaml`` is the release's recipe)::

    corpus: {path: corpus.jsonl.gz, text_field: text, id_field: id}
    output: runs/teachers
    teachers:
      - {name: minilm, model: path/to/all-MiniLM-L6-v2, encode: {max_length: 256}}
    fusion: {projections: {minilm: identity}}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..configs import ConfigError, load_config
from ..corpus import CorpusConfig
from ..encode import EncodeOptions
from .projections import parse_projection

__all__ = ["FusionConfig", "TeachConfig", "TeacherConfig", "load_teach_config"]


@dataclass(frozen=True)
class TeacherConfig:
    # Name of the teacher's store folder under ``output``; also the key used by fusion.
    name: str
    # A model folder or hub name that ``jasper_tc.load`` reads.
    model: str
    # Recorded in the manifest (the hub revision the model came from).
    revision: str | None = None
    # fp32, bf16 or fp16; None = as saved.
    dtype: str | None = None
    # What runs the forward: torch, or openvino (CPU, Jasper-TC teachers; the openvino extra).
    backend: Literal["torch", "openvino"] = "torch"
    # How the teacher encodes: a prompt (prompt_name or a literal prompt), max_length, batch_size,
    # max_tokens_per_batch, ... -- the options of ``encoder.encode``. Teachers normally run uncompressed
    # (compression_ratio None: 1.0 for plain models). Texts past the window: cut them (long_inputs:
    # truncate), or embed overlapping windows and average them (chunk, reading up to max_length): the
    # target for a student trained to read long texts compressed to fit (compression.fit_positions).
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    # Expected embedding size; checked as soon as the model loads, before any text is encoded.
    dimension: int | None = None

    def source(self) -> dict:
        """What makes this teacher's vectors what they are: a resumed store must have been made the same way."""
        runtime = {"backend": self.backend} if self.backend != "torch" else {}  # stores made before keep matching
        return {"model": self.model, "revision": self.revision, "dtype": self.dtype, **runtime, **self.encode.source()}


@dataclass(frozen=True)
class FusionConfig:
    # teacher name -> "identity" | "truncate:D" | "segment_sum:KxD" | "pca:D"; every teacher, in this order.
    projections: dict[str, str]
    # Name of the fused store's folder under ``output``.
    name: str = "fused"
    # Rows sampled (without replacement) to fit "pca:D" projections.
    pca_sample_rows: int = 20000
    seed: int = 0


@dataclass(frozen=True)
class TeachConfig:
    corpus: CorpusConfig
    teachers: list[TeacherConfig]
    # Folder holding one store per teacher, the id index, and the fused store.
    output: str
    # Rows per shard: the unit of work, of resumption and of parallelism.
    shard_rows: int = 8192
    # Storage dtype of the vectors.
    store_dtype: Literal["float32", "float16"] = "float32"
    # cpu, cuda, ...; None = cuda when available (each rank takes its local GPU).
    device: str | None = None
    fusion: FusionConfig | None = None
    # Texts per encode call within a shard (bounds memory; the encoder batches inside).
    chunk_rows: int = field(default=4096)


def check_teach_config(config: TeachConfig, source: str) -> TeachConfig:
    """Cross-field checks, all reported together."""
    problems = []
    if not Path(config.corpus.path).is_file():
        problems.append(f"corpus.path: no such file {config.corpus.path}")
    if not config.teachers:
        problems.append("teachers: at least one teacher is needed")
    names = [t.name for t in config.teachers]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"teachers: the name {name!r} is used twice")
    for i, teacher in enumerate(config.teachers):
        if not teacher.name or os.sep in teacher.name or teacher.name.startswith("."):
            problems.append(f"teachers[{i}].name: {teacher.name!r} cannot name a folder")
        if teacher.encode.long_inputs == "fit":
            problems.append(f"teachers[{i}].encode.long_inputs: a teacher reads truncate or chunk, not fit")
    for key in ("shard_rows", "chunk_rows"):
        if getattr(config, key) < 1:
            problems.append(f"{key}: must be at least 1")
    for i, teacher in enumerate(config.teachers):
        if teacher.dimension is not None and teacher.dimension < 1:
            problems.append(f"teachers[{i}].dimension: must be at least 1, got {teacher.dimension}")
    if config.fusion is not None and config.fusion.pca_sample_rows < 1:
        problems.append("fusion.pca_sample_rows: must be at least 1")
    if config.fusion is not None:
        projections = config.fusion.projections
        for name in names:
            if name not in projections:
                problems.append(f"fusion.projections: no projection for teacher {name!r}")
        for name, spec in projections.items():
            if name not in names:
                problems.append(f"fusion.projections.{name}: no teacher of that name (teachers: {names})")
                continue
            try:
                projection = parse_projection(spec)
            except ValueError as error:
                problems.append(f"fusion.projections.{name}: {error}")
                continue
            dimension = next(t.dimension for t in config.teachers if t.name == name)
            if dimension is not None and projection.needs > dimension:
                problems.append(
                    f"fusion.projections.{name}: {spec!r} needs {projection.needs} dims, the teacher has {dimension}"
                )
        if config.fusion.name in names:
            problems.append(f"fusion.name: {config.fusion.name!r} is also a teacher's name")
    if problems:
        raise ConfigError(source, problems)
    return config


def load_teach_config(path: str | os.PathLike, overrides: list[str] | None = None) -> TeachConfig:
    return check_teach_config(load_config(TeachConfig, path, overrides), str(path))
