"""Encode throughput of the 600M shape at ratios 1 -> 0.1, padded batches against padding-free ones.

A Qwen3-0.6B-shaped Jasper-TC model (random weights: time does not depend on them) embeds ``--texts``
inputs of mixed lengths (uniform in 64..``--max-length`` tokens, seeded) through ``Encoder.embed_token_ids``
-- the path ``encode`` and the server take: length-sorted batches of ``--batch-size``. Each ratio runs
padded and padding-free (``load(padding_free=True)``: a batch's valid positions packed in one row, which
flash-attention's variable-length kernels run without padding; with sdpa the packed row gets a
block-diagonal mask instead). Prints a table and writes ``results/gpu_encode-<device>.{md,json}``.

    python benchmarks/gpu_encode.py --device cuda --dtype bf16 --attn flash_attention_2   # the GPU table
    python benchmarks/gpu_encode.py --layers 1 --texts 32 --max-length 256                # CPU smoke
"""

from __future__ import annotations

import argparse

import torch

from _common import DTYPES, clock, device_name, qwen3_600m_config, table_head, table_row, write_results
from jasper_tc import JasperTCConfig, JasperTCModel
from jasper_tc.encode import Encoder

RATIOS = (1.0, 0.5, 0.33, 0.2, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bf16", choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--attn", default="sdpa", help="sdpa, flash_attention_2, kernels-community/flash-attn, ...")
    parser.add_argument("--layers", type=int, default=28)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    dtype = DTYPES[args.dtype]
    config = qwen3_600m_config(args.layers)
    torch.manual_seed(0)
    model = JasperTCModel(JasperTCConfig(text_config=config, embedding_dim=2048, max_seq_length=32768))
    model = model.to(device=args.device, dtype=dtype).eval()
    model.config.text_config._attn_implementation = args.attn
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(64, args.max_length + 1, (args.texts,), generator=generator).tolist()
    token_ids = [torch.randint(1, 150_000, (n,), generator=generator).tolist() for n in lengths]

    rows, vectors, now = [], {}, clock(args.device)
    for padding_free in (False, True):
        encoder = Encoder(_backend(model, padding_free))
        encoder.embed_token_ids(token_ids[: args.batch_size], 1.0, batch_size=args.batch_size)  # warm-up
        for ratio in RATIOS:
            start = now()
            vectors[(padding_free, ratio)] = encoder.embed_token_ids(token_ids, ratio, batch_size=args.batch_size)
            seconds = now() - start
            rows.append(
                {
                    "padding_free": padding_free,
                    "ratio": ratio,
                    "texts_per_s": args.texts / seconds,
                    "tokens_per_s": sum(lengths) / seconds,
                    "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None,
                }
            )
            print(rows[-1], flush=True)
    device = device_name(args.device)
    lines = [
        f"# Encode throughput, 600M shape ({args.layers} layers, {args.dtype}, attention {args.attn}) on {device}\n",
        f"{args.texts} inputs of 64..{args.max_length} tokens (mean {sum(lengths) / len(lengths):.0f}), "
        f"length-sorted batches of {args.batch_size}, through `Encoder.embed_token_ids`.\n",
        *table_head(
            "ratio",
            "padded texts/s",
            "padding-free texts/s",
            "padding-free gain",
            "padded input tokens/s",
            "min cosine padded vs padding-free",
        ),
    ]
    for ratio in RATIOS:
        padded, free = (next(r for r in rows if r["ratio"] == ratio and r["padding_free"] is f) for f in (False, True))
        cosine = float((vectors[(False, ratio)] * vectors[(True, ratio)]).sum(-1).min())
        gain = free["texts_per_s"] / padded["texts_per_s"]
        rates = (f"{padded['texts_per_s']:.1f}", f"{free['texts_per_s']:.1f}", f"{gain:.2f}x")
        lines.append(table_row(f"{ratio:g}", *rates, f"{padded['tokens_per_s']:.0f}", f"{cosine:.5f}"))
    text = "\n".join(lines) + "\n"
    print(text)
    name = "cuda" if args.device.startswith("cuda") else "cpu"
    write_results(f"gpu_encode-{name}", text, {"args": vars(args), "rows": rows})


class _Tokenizer:
    """Just enough of a tokenizer for ``Encoder.embed_batch``: pad id lists on the model's side."""

    def __init__(self, padding_side: str) -> None:
        self.padding_side = padding_side

    def pad(self, features: dict, padding: bool, return_tensors: str) -> dict:
        rows = features["input_ids"]
        width = max(map(len, rows))
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            place = slice(width - len(row), width) if self.padding_side == "left" else slice(0, len(row))
            ids[i, place] = torch.tensor(row)
            mask[i, place] = 1
        return {"input_ids": ids, "attention_mask": mask}


def _backend(model: JasperTCModel, padding_free: bool):
    from jasper_tc.encode.backends import JasperBackend

    backend = JasperBackend.__new__(JasperBackend)
    backend.model, backend.tokenizer, backend.name = model, _Tokenizer(model.config.padding_side), "600M shape"
    backend.dimension, backend.prompts = model.config.embedding_dim, {}
    backend.position_limit = backend.max_length = 32768
    backend.length_threshold = model.config.length_threshold
    backend.default_ratio, backend.padding_free = 1.0, padding_free
    return backend


if __name__ == "__main__":
    main()
