"""The configuration of a Jasper-TC model: a backbone config plus the jasper_mlp, pool and head settings.

Vocabulary: ``jasper_mlp`` is the trained SwiGLU MLP after the embedding lookup; the *token
compressor* is the parameter-free pool after it. A model without ``jasper_mlp`` still pools when a
call asks for a ratio below 1 (training-free compression).
"""

from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .compressor import LENGTH_THRESHOLD, check_padding_side, check_ratio, check_threshold

__all__ = ["DEFAULT_PROMPTS", "JasperTCConfig"]

# The release's prompts; the document side has none.
DEFAULT_PROMPTS: dict[str, str] = {
    "query": "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: ",
    "document": "",
}


class JasperTCConfig(PreTrainedConfig):
    """Backbone (``text_config``) + SwiGLU ``jasper_mlp`` + token compressor + mean pool + ``linear_1``.

    ``use_compressor`` and ``compressor_intermediate_size``, the names of earlier releases of this
    package, are read as ``use_jasper_mlp`` and ``jasper_mlp_intermediate_size``.

    ``projection_dim`` reads ``embedding_dim``, which is where sentence-transformers looks for the
    size of an embedding a model outputs directly.
    """

    model_type = "jasper_tc"
    sub_configs_defaults = {"text_config": SubConfigSpec(config_class=AutoConfig, model_type="qwen3")}  # noqa: RUF012
    attribute_map = {"projection_dim": "embedding_dim"}  # noqa: RUF012

    # Config of the transformers backbone whose input embeddings are compressed (Qwen3 for the release).
    text_config: dict | PreTrainedConfig | None = None
    # Size of the output embedding made by ``linear_1``.
    embedding_dim: int = 2048
    # False for a stage-1 student or a plain model: no ``jasper_mlp``; the pool then runs only when a
    # call asks for a ratio below 1.
    use_jasper_mlp: bool = True
    # Inputs with at most this many valid tokens are never compressed.
    length_threshold: int = LENGTH_THRESHOLD
    # The default ratio: used when a call gives none (models with a jasper_mlp only; 1.0 otherwise).
    # The release's config.json calls it the same.
    compression_ratio: float = 0.5
    # Hidden size of the SwiGLU ``jasper_mlp``; None = the backbone's ``intermediate_size``.
    jasper_mlp_intermediate_size: int | None = None
    # True: the MLP adds to the token embeddings (``x + jasper_mlp(x)``) instead of replacing them (the
    # release's form, False). A residual MLP whose output starts at zero starts as training-free pooling.
    jasper_mlp_residual: bool = False
    # Side on which compressed batches are re-padded (the tokenizer's padding side).
    padding_side: str = "left"
    # Prompt name -> text prepended to inputs; used by the encoder and sentence-transformers.
    prompts: dict[str, str] | None = None
    # Longest input (tokens, before compression) the encoder accepts by default; None = the backbone's limit.
    max_seq_length: int | None = None
    # Where and how the pool acts; the defaults are the release's (see ``compression-training.md``).
    # 0: on the input embeddings (after jasper_mlp); k: on the hidden states after backbone layer k (layers
    # 1..k run at full length).
    compress_after_layer: int = 0
    # Tokens at each end of a compressed input (a tokenizer's [CLS] and [SEP]) that keep a place of their own.
    compress_keep_ends: int = 0
    # Positions of the pooled tokens: "renumber" (0, 1, ... after the pool: the release) or "keep" (each at
    # its window's mean position; with absolute position embeddings, they are added before the pool).
    compress_positions: str = "renumber"
    # "mean" (the release) or "scored": each window a weighted mean, the weights exp(score) from a linear
    # scorer of each token whose weights start at zero, so that an untrained scorer is the mean. "merge":
    # windows chosen by the text, neighbours that are most alike merged first (model/merging.py).
    compress_pool: str = "mean"
    # "overlapping" (the release, an adaptive average pool's windows: neighbours share the token where they
    # meet) or "disjoint" (each token in one window: windows of whole tokens).
    compress_windows: str = "overlapping"
    # Set by training that drew ratios below 1: the model was made to work under the pool, so a call that
    # names no ratio runs at ``compression_ratio`` (a jasper_mlp, a scorer or a pool between layers say so too).
    compression_trained: bool = False

    def __post_init__(self, **kwargs):
        for old, new in _RENAMED.items():  # folders saved by earlier releases of this package
            if old in kwargs:
                setattr(self, new, kwargs.pop(old))
        super().__post_init__(**kwargs)
        problems = []
        if not isinstance(self.embedding_dim, int) or self.embedding_dim <= 0:
            problems.append(f"embedding_dim must be a positive integer, got {self.embedding_dim!r}")
        for check, value in ((check_threshold, self.length_threshold), (check_ratio, self.compression_ratio)):
            try:
                check(value)
            except ValueError as error:
                problems.append(str(error))
        if self.max_seq_length is not None and (not isinstance(self.max_seq_length, int) or self.max_seq_length < 1):
            problems.append(f"max_seq_length must be a positive integer or None, got {self.max_seq_length!r}")
        try:
            check_padding_side(self.padding_side)
        except ValueError as error:
            problems.append(str(error))
        problems += _compression_problems(self)
        if problems:
            raise ValueError("Invalid JasperTCConfig: " + "; ".join(problems))
        if self.prompts is None:
            self.prompts = dict(DEFAULT_PROMPTS)

    @property
    def mlp_intermediate_size(self) -> int:
        """Hidden size of ``jasper_mlp``."""
        return self.jasper_mlp_intermediate_size or self.text_config.intermediate_size


def _compression_problems(config: JasperTCConfig) -> list[str]:
    problems = []
    for key in ("compress_after_layer", "compress_keep_ends"):
        value = getattr(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{key} must be an integer of at least 0, got {value!r}")
    layers = getattr(config.text_config, "num_hidden_layers", None)
    if isinstance(config.compress_after_layer, int) and layers is not None and config.compress_after_layer >= layers:
        problems.append(
            f"compress_after_layer must be below the backbone's {layers} layers, got {config.compress_after_layer}"
        )
    if isinstance(config.compress_keep_ends, int) and 2 * config.compress_keep_ends >= config.length_threshold:
        problems.append(f"compress_keep_ends={config.compress_keep_ends} leaves no tokens to pool under the threshold")
    if config.compress_positions not in ("renumber", "keep"):
        problems.append(f"compress_positions must be 'renumber' or 'keep', got {config.compress_positions!r}")
    if config.compress_pool not in ("mean", "scored", "merge"):
        problems.append(f"compress_pool must be 'mean', 'scored' or 'merge', got {config.compress_pool!r}")
    if config.compress_windows not in ("overlapping", "disjoint"):
        problems.append(f"compress_windows must be 'overlapping' or 'disjoint', got {config.compress_windows!r}")
    return problems


_RENAMED = {"use_compressor": "use_jasper_mlp", "compressor_intermediate_size": "jasper_mlp_intermediate_size"}
