"""What a training step reads: texts (or triples) with their teacher vectors, in a seeded global order.

The order is a function of ``(seed, epoch)`` only, and the rows of micro-batch ``m`` of step ``s`` on
rank ``r`` are a function of ``(s, m, r)``: the data position *is* the step, so a resumed run reads
exactly what the uninterrupted one would have, with no sampler state to save.

Texts live in an Arrow file memory-mapped by every process (built once from the corpus), so a corpus
of millions of paragraphs costs no Python objects and no per-process copy.

Each kind of data (:class:`DistillData`, :class:`TripleData`) knows what the loop needs of it: the
micro-batch it makes of some rows, the objective it is trained with, and what to say about it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor

from ..corpus import CorpusConfig, CorpusError, iter_corpus, iter_triples, scan_corpus, text_id
from ..store import EmbeddingStore, StoreError
from .config import LossConfig, TrainConfig
from .objective import MicroBatch, Objective, distill_objective, triple_objective

__all__ = [
    "DistillBatch",
    "DistillData",
    "StepSampler",
    "Tokenize",
    "TrainData",
    "TripleBatch",
    "TripleData",
    "load_data",
]

# (texts, prompt text put before each) -> {"input_ids", "attention_mask"} on the training device
Tokenize = Callable[[list[str], str], dict[str, Tensor]]


@dataclass(frozen=True)
class DistillBatch:
    texts: list[str]
    teacher: np.ndarray  # (b, D)


@dataclass(frozen=True)
class TripleBatch:
    queries: list[str]
    documents: list[str]  # per query: its positive, then its K negatives
    teacher_queries: np.ndarray  # (b, D)
    teacher_documents: np.ndarray  # (b * (1 + K), D)


class StepSampler:
    """Rows of each micro-batch: the global batch of a step is ``world * batch_size * accumulation`` rows."""

    def __init__(self, rows: int, batch_size: int, accumulation: int, world: int, seed: int) -> None:
        self.rows, self.batch_size, self.accumulation, self.world, self.seed = (
            rows,
            batch_size,
            accumulation,
            world,
            seed,
        )
        self.global_batch = world * batch_size * accumulation
        self.steps_per_epoch = rows // self.global_batch  # a last partial batch is dropped
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the data has {rows} rows, fewer than one global batch of {self.global_batch} "
                f"({world} process(es) x batch_size {batch_size} x accumulation {accumulation})"
            )
        self._order: tuple[int, np.ndarray] | None = None

    def total_steps(self, epochs: float | None, steps: int | None) -> int:
        return steps if steps is not None else max(1, math.ceil(epochs * self.steps_per_epoch))

    def order(self, epoch: int) -> np.ndarray:
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.rows))
        return self._order[1]

    def indices(self, step: int, micro: int, rank: int) -> np.ndarray:
        epoch, position = divmod(step, self.steps_per_epoch)
        first = position * self.global_batch + (micro * self.world + rank) * self.batch_size
        return self.order(epoch)[first : first + self.batch_size]


def _vectors(array: np.ndarray, device: torch.device) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def _prompt(prompts: dict[str, str], name: str | None) -> str:
    return prompts.get(name, "") if name else ""


class DistillData:
    """Corpus texts and their teacher vectors, row for row (stages 1-3)."""

    def __init__(self, texts: pa.ChunkedArray, store: EmbeddingStore) -> None:
        self.texts, self.store = texts, store

    def __len__(self) -> int:
        return len(self.texts)

    def batch(self, indices: np.ndarray) -> DistillBatch:
        texts = self.texts.take(pa.array(indices)).to_pylist()
        return DistillBatch(texts=texts, teacher=np.asarray(self.store[indices], dtype=np.float32))

    def micro_batch(
        self, indices: np.ndarray, tokenize: Tokenize, prompts: dict[str, str], device: torch.device
    ) -> MicroBatch:
        """The rows ``indices`` as one part, ``texts``, tokenised without a prompt."""
        batch = self.batch(indices)
        return MicroBatch(
            inputs={"texts": tokenize(batch.texts, "")}, teacher={"texts": _vectors(batch.teacher, device)}
        )

    def objective(self, loss: LossConfig) -> Objective:
        return distill_objective(loss)

    def notes(self) -> list[str]:
        """What the run log should say about the data beyond its size."""
        return []


class TripleData:
    """Stage-4 triples (query, positive, K negatives) and the store rows of each of their texts; queries and
    documents are tokenised after the model's prompts named ``prompt_names`` (None: no prompt)."""

    def __init__(
        self,
        triples: list[list[str]],
        rows: np.ndarray,
        store: EmbeddingStore,
        skipped: int,
        negatives: int,
        prompt_names: tuple[str | None, str | None] = (None, None),
    ) -> None:
        self.triples, self.rows, self.store, self.skipped = triples, rows, store, skipped  # rows: (N, 2 + K)
        self.negatives, self.prompt_names = negatives, prompt_names

    def __len__(self) -> int:
        return len(self.triples)

    def micro_batch(
        self, indices: np.ndarray, tokenize: Tokenize, prompts: dict[str, str], device: torch.device
    ) -> MicroBatch:
        """The triples ``indices`` as two parts: ``queries``, and ``documents`` (each query's 1 + K)."""
        batch = self.batch(indices)
        query_prompt, document_prompt = (_prompt(prompts, name) for name in self.prompt_names)
        return MicroBatch(
            inputs={
                "queries": tokenize(batch.queries, query_prompt),
                "documents": tokenize(batch.documents, document_prompt),
            },
            teacher={
                "queries": _vectors(batch.teacher_queries, device),
                "documents": _vectors(batch.teacher_documents, device),
            },
        )

    def objective(self, loss: LossConfig) -> Objective:
        return triple_objective(loss, self.negatives)

    def notes(self) -> list[str]:
        """What the run log should say about the data beyond its size."""
        return [f"skipped {self.skipped} triple(s) with fewer than {self.negatives} negatives"] if self.skipped else []

    def batch(self, indices: np.ndarray) -> TripleBatch:
        chosen = [self.triples[i] for i in indices]
        rows = self.rows[indices]
        vectors = np.asarray(self.store[rows.reshape(-1)], dtype=np.float32).reshape(*rows.shape, -1)
        return TripleBatch(
            queries=[texts[0] for texts in chosen],
            documents=[text for texts in chosen for text in texts[1:]],
            teacher_queries=vectors[:, 0],
            teacher_documents=vectors[:, 1:].reshape(-1, vectors.shape[-1]),
        )


def _text_column(corpus: CorpusConfig, folder: Path, fingerprint: str) -> pa.ChunkedArray:
    """The corpus texts as a memory-mapped Arrow column, written once per corpus content."""
    path = folder / f"texts-{fingerprint[:16]}.arrow"
    if not path.is_file():  # streamed to a temporary file and renamed: never the whole corpus in memory
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        schema = pa.schema([("text", pa.large_string())])
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            chunk: list[str] = []
            for _, text in iter_corpus(corpus):
                chunk.append(text)
                if len(chunk) == 65536:
                    writer.write_batch(pa.record_batch([pa.array(chunk, pa.large_string())], schema=schema))
                    chunk = []
            if chunk:
                writer.write_batch(pa.record_batch([pa.array(chunk, pa.large_string())], schema=schema))
        os.replace(partial, path)
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all().column("text")


def _open_store(folder: str, dimension: int, verify: bool = True) -> EmbeddingStore:
    """The teacher store, its sizes checked; with ``verify``, every shard's checksum too, once per run (a
    shard verified before and unchanged since is not hashed again), with a progress bar."""
    store = EmbeddingStore(folder, verify=verify)
    if verify:
        store.verify(progress=True, label="verify teacher store")
    if store.dimension != dimension:
        raise StoreError(
            f"data.teacher_store: {folder} holds {store.dimension}-d teacher vectors but the student "
            f"embeds into {dimension} dims (start.embedding_dim / the checkpoint's embedding_dim)"
        )
    return store


def load_distill_data(
    corpus: CorpusConfig, store_folder: str, dimension: int, cache: Path, verify: bool = True
) -> DistillData:
    store = _open_store(store_folder, dimension, verify)
    scan = scan_corpus(corpus)
    if scan.fingerprint != store.manifest.corpus_fingerprint:
        raise StoreError(
            f"data.teacher_store: {store_folder} was built from another corpus than {corpus.path} "
            "(texts, ids or corpus settings differ); give the corpus config used with `jasper-tc teach`"
        )
    return DistillData(_text_column(corpus, cache, scan.fingerprint), store)


def load_triple_data(
    path: str,
    store_folder: str,
    dimension: int,
    negatives: int,
    prompt_names: tuple[str | None, str | None] = (None, None),
    verify: bool = True,
) -> TripleData:
    store = _open_store(store_folder, dimension, verify)
    if store.manifest.ids is None:
        raise StoreError(f"data.teacher_store: {store_folder} has no id index; build it with `jasper-tc teach`")
    ids = store.ids
    triples, rows, skipped = [], [], 0
    for line, query, positive, found in iter_triples(path):
        if len(found) < negatives:
            skipped += 1
            continue
        texts = [query, positive, *found[:negatives]]
        try:
            rows.append([ids.row(text_id(text)) for text in texts])
        except KeyError:
            raise StoreError(
                f"data.teacher_store: {store_folder} lacks the vector of a text of {path} line {line}; "
                "run `jasper-tc teach` on this triples file (corpus.format: triples)"
            ) from None
        triples.append(texts)
    if not triples:
        raise CorpusError(f"{path}: no triple has {negatives} negatives")
    return TripleData(triples, np.asarray(rows, dtype=np.int64), store, skipped, negatives, prompt_names)


TrainData = DistillData | TripleData


def load_data(config: TrainConfig, dimension: int, *, verify: bool = True) -> TrainData:
    """The data of a :class:`~jasper_tc.training.config.TrainConfig`, checked against its teacher store
    (``verify``: the store's checksums too, before a step reads it)."""
    data = config.data
    if data.triples is not None:
        prompt_names = (data.query_prompt_name, data.document_prompt_name)
        return load_triple_data(data.triples, data.teacher_store, dimension, data.negatives, prompt_names, verify)
    return load_distill_data(data.corpus, data.teacher_store, dimension, Path(config.output) / "data", verify)
