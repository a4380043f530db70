"""The embedding store: a manifest, memory-mapped shards with checksums, and an id index (numpy only).

Imports nothing else from the package but its atomic file writers.
"""

from .ids import IdIndex, write_id_index
from .manifest import Manifest, ShardInfo, StoreError, sha256_file
from .reader import EmbeddingStore
from .shards import check_header, finished_shards, merge_manifest, shard_file, write_shard

__all__ = [
    "EmbeddingStore",
    "IdIndex",
    "Manifest",
    "ShardInfo",
    "StoreError",
    "check_header",
    "finished_shards",
    "merge_manifest",
    "sha256_file",
    "shard_file",
    "write_id_index",
    "write_shard",
]
