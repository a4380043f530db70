"""What ``adapt`` is asked to do: the model, its texts, where to, and the recipe's overrides by stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..recipes import ADAPT_TASKS, RATIOS, SMOKE_RATIOS, Evaluation
from ..resources import CONFIGS

__all__ = ["LONG_STAGES", "OVERRIDE_TARGETS", "SMOKE", "SMOKE_OVERRIDES", "STAGES", "AdaptPlan", "split_overrides"]

STAGES = ("fixed", "dynamic")  # configs/adapt/fixed.yaml, then dynamic.yaml
LONG_STAGES = ("long", "segments")  # then long.yaml and segments.yaml with --long-documents
# Every phase at toy size: a check that the whole run works, in about a minute.
SMOKE = {"max_texts": 40, "eval_limit": 20, "ratios": SMOKE_RATIOS}
SMOKE_OVERRIDES = (
    *("stages.steps=2", "stages.batch_size=4", "stages.checkpoint.every=0"),
    *("long.steps=2", "long.batch_size=2", "long.checkpoint.every=0", "long.data.max_length=1024"),
    *("segments.steps=2", "segments.batch_size=2", "segments.checkpoint.every=0"),
    "teach-long.teachers.0.encode.max_length=1024",
)
OVERRIDE_TARGETS = ("teach", "fixed", "dynamic", "stages", "long", "segments", "teach-long")


@dataclass(frozen=True)
class AdaptPlan:
    """What to adapt, on which texts, where to; the recipe's own choices live in its YAML files."""

    model: str
    corpus: Path
    output: Path
    text_field: str = "text"
    max_texts: int | None = None  # the first N records of the corpus (None: all)
    short_share: float = 0.25  # every 1/share-th document also gives its first sentence as a short text
    max_length: int | None = 256  # tokens per text, in training and evaluation (None: the model's limit)
    recipe: Path = CONFIGS / "adapt"  # teach.yaml, fixed.yaml, dynamic.yaml
    overrides: tuple[str, ...] = ()  # "fixed.steps=50", "stages.batch_size=8", "teach.shard_rows=1024"
    eval_tasks: tuple[str, ...] = ADAPT_TASKS
    eval_limit: int | None = None  # queries / pairs per task (None: as the suite has them)
    ratios: tuple[float, ...] = RATIOS
    device: str | None = None
    # How the evaluations, closeness and speed encode (load's dtype): "auto" is the fastest precision within
    # cosine 0.999 of fp32 on this machine, probed (bf16 where the CPU has bf16 units); None as saved (fp32).
    dtype: str | None = "auto"
    # Two stages for documents past the window (``long_documents``), each on texts of consecutive corpus texts
    # joined, as many of each length (``*_groups`` texts joined), towards the original's chunk-and-mean of
    # the same text. "long" reads whole texts of about 1,000 to 32,000 tokens of Wikipedia paragraphs,
    # compressed to fit the window as long_inputs="fit" reads them; "segments" then texts up to a segment
    # (about 500 tokens) into half the window, as long_inputs="segments" reads each segment. A group of 1 is
    # the short texts again, at the ratio drawn for the step, so that both keep what the dynamic stage taught.
    long_documents: bool = False
    long_texts: int = 280
    long_groups: tuple[int, ...] = (1, 8, 20, 40, 80, 160, 250)
    segment_texts: int = 600
    segment_groups: tuple[int, ...] = (1, 2, 4, 5)
    extra: dict = field(default_factory=dict)  # recorded in the summary as given (e.g. the scale)

    def __post_init__(self) -> None:
        from ..encode.precision import parse_precision

        parse_precision(self.dtype)  # an unknown dtype is named now, not after training

    @property
    def evaluation(self) -> Evaluation:
        """How the original and the adapted model are measured: tasks no stage trains on, the plan's ratios."""
        return Evaluation(
            tasks=self.eval_tasks, ratios=self.ratios, limit=self.eval_limit, max_length=self.max_length,
            device=self.device, dtype=self.dtype,
        )  # fmt: skip


def split_overrides(overrides: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """``teach.X=v`` / ``fixed.X=v`` / ``dynamic.X=v`` / ``stages.X=v`` (both stages) by target."""
    routed: dict[str, list[str]] = {name: [] for name in OVERRIDE_TARGETS if name != "stages"}
    for override in overrides:
        target, _, rest = override.partition(".")
        if target not in OVERRIDE_TARGETS or not rest or "=" not in rest:
            raise ValueError(
                f"override {override!r}: write TARGET.KEY=VALUE with TARGET one of {', '.join(OVERRIDE_TARGETS)}"
            )
        for name in STAGES if target == "stages" else (target,):
            routed[name].append(rest)
    return routed
