"""The cost side of long documents at the 600M shape: compress-to-fit against chunk-and-mean, per document.

A Qwen3-0.6B-shaped Jasper-TC model (random weights; time does not depend on them) embeds one document of
each length. Each part is common.timed on its own and the per-layer time extrapolated to 28 layers, as in
``compression_speed.py``:

- ``fit-B``: the embedding lookup and jasper_mlp over all L tokens, the pool down to B positions, 28 layers
  over B positions;
- ``chunk``: windows of W tokens overlapping by 32 (the release reads 1,024), each looked up and run
  through 28 layers (all windows in one batch), then averaged;
- ``truncate``: the first W tokens only (what most servers do today; it reads none of the rest).

    python benchmarks/long_inputs_speed.py                 # CPU: 1 layer run, extrapolated
    python benchmarks/long_inputs_speed.py --device cuda --layers 28 --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

import _common as common
from jasper_tc import JasperTCConfig, JasperTCModel, compress_tokens
from jasper_tc.model import fit_ratio


def windows(length: int, window: int, overlap: int) -> int:
    return max(1, math.ceil((length - overlap) / (window - overlap)))


@torch.inference_mode()
def measure(model: JasperTCModel, length: int, budgets: list[int], window: int, device: str, repeats: int) -> dict:
    """Seconds of each part, for one document of ``length`` tokens (layers: per layer run)."""
    vocab, layers = model.config.text_config.vocab_size, model.config.text_config.num_hidden_layers
    ids = torch.randint(0, vocab, (1, length), device=device)
    mask = torch.ones_like(ids)

    def lookup(tokens):
        return model.jasper_mlp(model.model.embed_tokens(tokens))

    def run_layers(hidden, hidden_mask):
        positions = (hidden_mask.long().cumsum(-1) - 1).clamp(min=0)
        return model.model(inputs_embeds=hidden, attention_mask=hidden_mask, position_ids=positions).last_hidden_state

    hidden = lookup(ids)
    parts = {"lookup": common.timed(lambda: lookup(ids), device, repeats)}
    for budget in budgets:
        ratio = fit_ratio(length, budget)
        pooled, pooled_mask = compress_tokens(hidden, mask, ratio)
        parts[f"compress-{budget}"] = common.timed(lambda r=ratio: compress_tokens(hidden, mask, r), device, repeats)
        parts[f"layers-{budget}"] = (
            common.timed(lambda p=pooled, m=pooled_mask: run_layers(p, m), device, repeats) / layers
        )
    count = windows(length, window, 32)
    window_ids = torch.randint(0, vocab, (count, window), device=device)
    window_hidden = lookup(window_ids)
    window_mask = torch.ones_like(window_ids)
    parts["chunk-lookup"] = common.timed(lambda: lookup(window_ids), device, repeats)
    parts["chunk-layers"] = common.timed(lambda: run_layers(window_hidden, window_mask), device, repeats) / layers
    first = window_hidden[:1]
    parts["truncate-layers"] = common.timed(lambda: run_layers(first, window_mask[:1]), device, repeats) / layers
    parts["windows"] = count
    return parts


def extrapolate(parts: dict, budgets: list[int], window: int, length: int) -> dict[str, float]:
    """ms per document at 28 layers, per strategy (truncate looks up only its window's share of the tokens)."""
    ms = {
        f"fit-{b}": 1000 * (parts["lookup"] + parts[f"compress-{b}"] + common.QWEN3_600M_LAYERS * parts[f"layers-{b}"])
        for b in budgets
    }
    ms["chunk"] = 1000 * (parts["chunk-lookup"] + common.QWEN3_600M_LAYERS * parts["chunk-layers"])
    ms["truncate"] = 1000 * (
        parts["lookup"] * min(1.0, window / length) + common.QWEN3_600M_LAYERS * parts["truncate-layers"]
    )
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=1, help="decoder layers actually run (28 = the full model)")
    parser.add_argument("--dtype", default="fp32", choices=sorted(common.DTYPES))
    parser.add_argument("--lengths", default="2048,4096,8192,16384,32768")
    parser.add_argument("--budgets", default="512,1024")
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = JasperTCConfig(text_config=common.qwen3_600m_config(args.layers), embedding_dim=2048)
    model = JasperTCModel(config).to(device=args.device, dtype=common.DTYPES[args.dtype]).eval()
    lengths = [int(n) for n in args.lengths.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = []
    for length in lengths:
        parts = measure(model, length, budgets, args.window, args.device, args.repeats)
        ms = extrapolate(parts, budgets, args.window, length)
        rows.append({"length": length, "windows": parts["windows"], "ms": ms})
        print(json.dumps(rows[-1]), flush=True)
    strategies = [*(f"fit-{b}" for b in budgets), "chunk", "truncate"]
    lines = common.table_head(
        "tokens", "windows", *(f"{s} ms" for s in strategies), *(f"chunk / fit-{b}" for b in budgets)
    )
    for row in rows:
        cells = [f"{row['length']:,}", row["windows"], *(f"{row['ms'][s]:,.0f}" for s in strategies)]
        cells += [f"{row['ms']['chunk'] / row['ms'][f'fit-{b}']:.1f}×" for b in budgets]
        lines.append(common.table_row(*cells))
    machine = f"{common.device_name(args.device)}, {torch.get_num_threads()} threads, {args.device}, {args.dtype}"
    table = "\n".join(lines)
    print(table)
    tag = "gpu" if args.device.startswith("cuda") else "cpu"
    note = (
        f"# Long documents at the 600M shape ({machine}; {args.layers} layer(s) run, "
        f"extrapolated to {common.QWEN3_600M_LAYERS})\n\n"
        f"One document per row; chunk windows of {args.window} tokens overlapping by 32, all in one batch.\n\n"
    )
    common.write_results(f"long_inputs_speed-{tag}", note + table + "\n", {"machine": machine, "rows": rows})
    _plot(rows, strategies, common.RESULTS / f"long_inputs_speed-{tag}.png", machine)


def _plot(rows: list[dict], strategies: list[str], path: Path, machine: str) -> None:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy in strategies:
        ax.plot([r["length"] for r in rows], [r["ms"][strategy] for r in rows], marker="o", label=strategy)
    ax.set(xscale="log", yscale="log", xlabel="document tokens", ylabel="ms per document (28 layers)")
    ax.set_title(f"600M shape: compress to fit vs chunk ({machine})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
