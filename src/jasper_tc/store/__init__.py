"""The embedding store: a manifest, memory-mapped shards with checksums, and an id index (numpy only).

Imports nothing else from the package but its atomic file writers.
"""

from .ids import IdIndex, write_id_index
from .integrity import verify_shards
from .manifest import Manifest, ShardInfo, StoreError, sha256_file
from .reader import EmbeddingStore
from .shards import check_header, finished_shards, merge_manifest, repair_shards, shard_file, write_shard

__all__ = [
    "EmbeddingStore",
    "IdIndex",
    "Manifest",
    "ShardInfo",
    "StoreError",
    "check_header",
    "finished_shards",
    "merge_manifest",
    "repair_shards",
    "sha256_file",
    "shard_file",
    "verify_shards",
    "write_id_index",
    "write_shard",
]
