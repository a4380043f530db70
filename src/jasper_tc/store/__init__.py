"""The embedding store: a manifest, memory-mapped shards with checksums, and an id index (numpy only).

Imports nothing else from the package.
"""

from .ids import IdIndex, write_id_index
from .manifest import Manifest, ShardInfo, StoreError, atomic_write_bytes, atomic_write_json, sha256_file
from .reader import EmbeddingStore
from .shards import finished_shards, merge_manifest, shard_file, write_shard

__all__ = [
    "EmbeddingStore",
    "IdIndex",
    "Manifest",
    "ShardInfo",
    "StoreError",
    "atomic_write_bytes",
    "atomic_write_json",
    "finished_shards",
    "merge_manifest",
    "sha256_file",
    "shard_file",
    "write_id_index",
    "write_shard",
]
