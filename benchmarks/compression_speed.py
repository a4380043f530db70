"""How much the token compressor speeds up a Qwen3-0.6B-shaped Jasper-TC model, and what it costs itself.

A model with the 600M shapes (hidden 1024, 16/8 heads, FFN 3072, vocab 151,669) and random weights
runs fixed-length batches at each length and ratio. Fewer layers than 28 are allowed: each part of
the forward is common.timed separately (embedding + jasper_mlp, compressor, layers, pool + head), and the
per-layer time is what scales, so the full 28-layer forward is extrapolated from it.

Columns: ``ms/batch`` measured forward with the layers run; ``ms/batch@28L`` extrapolated to 28
layers; ``speedup@28L`` against ratio 1 at the same length; ``ideal`` the FLOP ratio of 28 layers at
the uncompressed vs compressed length; ``%ideal`` = speedup/ideal; ``compressor %`` its share of the
28-layer forward; ``vs loop`` how many times faster it is than the release's sample-by-sample loop.

    python benchmarks/compression_speed.py                       # CPU: 1 layer, fp32 and bf16
    python benchmarks/compression_speed.py --device cuda --batch-size 32 --dtypes bf16 --layers 28
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import torch
import torch.nn.functional as F

import _common as common
from jasper_tc import JasperTCConfig, JasperTCModel, compress_tokens, compressed_length
from jasper_tc.model import mean_pool
from jasper_tc.model.cost import layer_flops


def release_loop_compress(hidden: torch.Tensor, mask: torch.Tensor, ratio: float) -> torch.Tensor:
    """The release's way: one adaptive_avg_pool1d per sample, then re-padding."""
    pooled = []
    for row, row_mask in zip(hidden, mask.bool()):
        tokens = row[row_mask]
        n = tokens.shape[0]
        target = compressed_length(n, ratio)
        pooled.append(F.adaptive_avg_pool1d(tokens.T.unsqueeze(0).float(), target).squeeze(0).T.to(hidden.dtype))
    out = hidden.new_zeros(hidden.shape[0], max(p.shape[0] for p in pooled), hidden.shape[2])
    for i, p in enumerate(pooled):
        out[i, out.shape[1] - p.shape[0] :] = p
    return out


@torch.inference_mode()
def measure(model: JasperTCModel, batch: int, length: int, ratio: float, device: str, repeats: int) -> dict:
    ids = torch.randint(0, model.config.text_config.vocab_size, (batch, length), device=device)
    mask = torch.ones_like(ids)
    hidden = model.jasper_mlp(model.model.embed_tokens(ids))
    compressed, new_mask = compress_tokens(hidden, mask, ratio)
    positions = (new_mask.long().cumsum(-1) - 1).clamp(min=0)

    def run_layers():
        return model.model(inputs_embeds=compressed, attention_mask=new_mask, position_ids=positions).last_hidden_state

    states = run_layers()
    parts = {
        "embed_mlp": common.timed(lambda: model.jasper_mlp(model.model.embed_tokens(ids)), device, repeats),
        "compressor": common.timed(lambda: compress_tokens(hidden, mask, ratio), device, repeats) if ratio < 1 else 0.0,
        "layers": common.timed(run_layers, device, repeats),
        "head": common.timed(lambda: model.linear_1(mean_pool(states, new_mask).to(hidden.dtype)), device, repeats),
        "forward": common.timed(lambda: model(ids, mask, compression_ratio=ratio), device, repeats),
    }
    parts["loop"] = (
        common.timed(lambda: release_loop_compress(hidden, mask, ratio), device, repeats) if ratio < 1 else 0.0
    )
    parts["tokens_after"] = int(new_mask[0].sum())
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=1, help="decoder layers actually run (28 = the full model)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lengths", default="128,256,512,1024,2048")
    parser.add_argument("--ratios", default="1,0.5,0.33,0.2,0.1")
    parser.add_argument("--dtypes", default=None, help="model dtypes (default: fp32 on CPU, bf16 on GPU)")
    parser.add_argument("--compressor-dtypes", default="fp32,bf16", help="dtypes of the compressor-only table")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--attn", default="sdpa", help="attention implementation")
    parser.add_argument("--out", default=None, help="results file stem (default: by device)")
    args = parser.parse_args()
    if args.dtypes is None:  # CPUs without bf16 units run bf16 matmuls ~100x slower than fp32
        args.dtypes = "bf16" if args.device == "cuda" else "fp32"
    lengths = [int(x) for x in args.lengths.split(",")]
    ratios = [float(x) for x in args.ratios.split(",")]
    torch.manual_seed(0)

    header = (
        f"# compression_speed: Qwen3-0.6B-shaped Jasper-TC, random weights\n\n"
        f"device: {args.device} ({common.device_name(args.device)}), threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}, attention {args.attn}, batch {args.batch_size}, {args.layers} layer(s) run, "
        f"extrapolated to {common.QWEN3_600M_LAYERS}, median of {args.repeats}\n"
    )
    lines = [header]
    records = []
    for dtype_name in args.dtypes.split(","):
        dtype = common.DTYPES[dtype_name]
        config = JasperTCConfig(text_config=common.qwen3_600m_config(args.layers), embedding_dim=2048)
        config.text_config._attn_implementation = args.attn
        model = JasperTCModel(config).to(device=args.device, dtype=dtype).eval()
        lines.append(f"\n## {dtype_name}\n")
        columns = ("length", "ratio", "tokens", "ms/batch", "ms/batch@28L", "speedup@28L", "ideal", "%ideal")
        lines += common.table_head(*columns, "compressor %", "vs loop")
        for length in lengths:
            base_full = None
            for ratio in ratios:
                m = measure(model, args.batch_size, length, ratio, args.device, args.repeats)
                per_layer = m["layers"] / args.layers
                full = m["embed_mlp"] + m["compressor"] + m["head"] + common.QWEN3_600M_LAYERS * per_layer
                base_full = full if ratio == 1 else base_full
                speedup = base_full / full
                ideal = layer_flops(length, config.text_config) / layer_flops(m["tokens_after"], config.text_config)
                share = 100 * m["compressor"] / full
                vs_loop = m["loop"] / m["compressor"] if m["compressor"] else float("nan")
                records.append(
                    dict(dtype=dtype_name, length=length, ratio=ratio, **m, full_28=full, speedup=speedup, ideal=ideal)
                )
                lines.append(
                    f"| {length} | {ratio:g} | {m['tokens_after']} | {1000 * m['forward']:.1f} | {1000 * full:.1f} | "
                    f"{speedup:.2f}x | {ideal:.2f}x | {100 * speedup / ideal:.0f}% | {share:.2f}% | {vs_loop:.1f}x |"
                )
                print(lines[-1], flush=True)
        del model
    lines += compressor_table(args, lengths, [r for r in ratios if r < 1])
    text = "\n".join(lines) + "\n"
    print(text)
    stem = args.out or f"compression_speed-{args.device}"
    common.write_results(stem, text, {"header": header, "records": records})
    plot(records, common.RESULTS / f"{stem}.png")


@torch.inference_mode()
def compressor_table(args, lengths: list[int], ratios: list[float]) -> list[str]:
    """The compressor alone on (batch, length, 1024) activations, against the release's per-sample loop."""
    lines = ["\n## compressor alone (hidden 1024), against the release's sample-by-sample loop\n"]
    lines += common.table_head("dtype", "length", "ratio", "ours ms", "loop ms", "speedup", left=1)
    for dtype_name in args.compressor_dtypes.split(","):
        for length in lengths:
            hidden = torch.randn(args.batch_size, length, 1024, device=args.device, dtype=common.DTYPES[dtype_name])
            mask = torch.ones(args.batch_size, length, dtype=torch.long, device=args.device)
            for ratio in ratios:
                ours = common.timed(functools.partial(compress_tokens, hidden, mask, ratio), args.device, args.repeats)
                loop = common.timed(
                    functools.partial(release_loop_compress, hidden, mask, ratio), args.device, args.repeats
                )
                cells = [dtype_name, length, f"{ratio:g}", f"{1000 * ours:.2f}", f"{1000 * loop:.2f}"]
                lines.append(common.table_row(*cells, f"{loop / ours:.1f}x"))
                print(lines[-1], flush=True)
    return lines


def plot(records: list[dict], path: Path) -> None:
    """Extrapolated 28-layer latency against input length, one line per ratio and dtype."""
    try:
        plt = common.pyplot()
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dtype in sorted({r["dtype"] for r in records}):
        for ratio in sorted({r["ratio"] for r in records}, reverse=True):
            rows = [r for r in records if r["dtype"] == dtype and r["ratio"] == ratio]
            style = "-" if dtype == "fp32" else "--"
            ax.plot(
                [r["length"] for r in rows],
                [1000 * r["full_28"] for r in rows],
                style,
                marker="o",
                label=f"{dtype} r={ratio:g}",
            )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="input tokens",
        ylabel="ms per batch (28 layers, extrapolated)",
        title="Jasper-TC 600M shape: latency vs length per compression ratio",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
