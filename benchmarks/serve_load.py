"""The server under load on loopback against offline ``encode`` of the same model, in one run.

Builds a MiniLM-based Jasper-TC student (first 3 layers of all-MiniLM-L6-v2 + the compressor), starts
``jasper-tc serve`` in its own process, and sends ``--requests`` paragraphs of the shipped sample,
one per request and 8 per request, at concurrency 1, 8 and 32, from an async client in this process
(its CPU use is reported: on a small machine the load generator competes with the server). Offline
throughput is ``Encoder.encode`` over the same texts in batches of 32, in this process. This machine's
speed drifts by up to a third from one minute to the next, so each of ``--repeats`` rounds measures
offline and then every level, and a level's ``x offline`` is the median over rounds of its texts/s
against its own round's offline figure.
Target: at concurrency 32 the server reaches >= 0.8x offline throughput.

    python benchmarks/serve_load.py [--requests 512] [--ratio 0.5] [--per-request 1,8] [--repeats 3]
    python benchmarks/serve_load.py --per-request 1 --levels 32 --serve-args "--model-threads 1" \
        --serve-args "--model-threads 2" --name serve_load-model-threads-cpu     # servers side by side
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from _common import RESULTS, ROOT, pyplot, table_head, table_row, write_results


def texts(count: int) -> list[str]:
    with gzip.open(ROOT / "data/quickstart/paragraphs.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(next(handle))["text"] for _ in range(count)]
    return rows


def build_model(folder: Path) -> str:
    from jasper_tc import build_student

    model, tokenizer = build_student(
        "sentence-transformers/all-MiniLM-L6-v2", 384, num_layers=3, with_jasper_mlp=True, mlp_init="identity"
    )
    model.save_pretrained(folder, tokenizer=tokenizer)
    return str(folder)


def offline_throughput(encoder, inputs: list[str], ratio: float) -> float:
    encoder.encode(inputs[:64], compression_ratio=ratio, batch_size=32)  # warm-up
    start = time.perf_counter()
    encoder.encode(inputs, compression_ratio=ratio, batch_size=32)
    return len(inputs) / (time.perf_counter() - start)


def forwards_so_far(base: str) -> tuple[float, float]:
    """The server's forwards and the inputs they held, from /metrics."""
    metrics = httpx.get(f"{base}/metrics").text
    count, total = (
        float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith(f"jasper_batch_inputs_{k}")))
        for k in ("count", "sum")
    )
    return count, total


async def load(base: str, inputs: list[str], concurrency: int, ratio: float, per_request: int) -> dict:
    queue = [inputs[i : i + per_request] for i in range(0, len(inputs), per_request)]
    latencies: list[float] = []
    errors = 0

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal errors
        while queue:
            texts_of_request = queue.pop()
            start = time.perf_counter()
            body = {
                "input": texts_of_request,
                "compression_ratio": ratio,
                "encoding_format": "base64",
                "truncate": True,
            }
            async with http.post(f"{base}/v1/embeddings", json=body) as response:
                await response.read()
            latencies.append(time.perf_counter() - start)
            errors += response.status != 200

    # aiohttp: a quarter of httpx's CPU per request here (0.04 against 0.18 cores at concurrency 32), CPU
    # that on a small machine is taken from the server
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        async with http.post(f"{base}/v1/embeddings", json={"input": inputs[0], "compression_ratio": ratio}) as warm:
            await warm.read()
        forwards, held = forwards_so_far(base)
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        forwards_after, held_after = forwards_so_far(base)
    latencies.sort()
    return {
        "per_request": per_request,
        "concurrency": concurrency,
        "texts_per_s": len(inputs) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": errors,
        "client_cpu": cpu / seconds,  # cores the load generator itself took from the machine
        "per_forward": (held_after - held) / max(1.0, forwards_after - forwards),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plot(rows: list[dict], offline: float, path: Path) -> None:
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    several = len({r["flags"] for r in rows}) > 1
    for flags, k in sorted({(r["flags"], r["per_request"]) for r in rows}):
        mine = [r for r in rows if (r["flags"], r["per_request"]) == (flags, k)]
        name = f"{k:.0f}/request" + (f", {flags}" if several else "")
        left.plot([r["concurrency"] for r in mine], [r["texts_per_s"] for r in mine], "o-", label=f"server, {name}")
        right.plot([r["concurrency"] for r in mine], [r["p99_ms"] for r in mine], "s-", label=f"p99, {name}")
        right.plot([r["concurrency"] for r in mine], [r["p50_ms"] for r in mine], "o--", label=f"p50, {name}")
    left.axhline(offline, color="gray", linestyle="--", label="offline encode")
    left.axhline(0.8 * offline, color="gray", linestyle=":", label="0.8x offline")
    left.set(xscale="log", xlabel="concurrent clients", ylabel="texts/s", title="Throughput")
    left.legend()
    right.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="ms", title="Latency per request")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def start_server(model: str, flags: str) -> tuple[subprocess.Popen, str]:
    """``jasper-tc serve`` with ``flags`` in its own process, once ready: the process and its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "jasper_tc", "serve", "--model", model, "--port", str(port), *flags.split()]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"the server with flags {flags!r} did not start")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--per-request", default="1,8", help="texts per request, one table block each")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of offline + every level; medians")
    parser.add_argument(
        "--serve-args", action="append",
        help='`jasper-tc serve` flags, e.g. "--model-threads 1"; give it again to compare servers side by side, '
        "their loads alternated in every round",
    )  # fmt: skip
    parser.add_argument("--name", default="serve_load-cpu", help="results/NAME.md and NAME.png")
    args = parser.parse_args()
    variants = args.serve_args or [""]
    inputs = texts(args.requests)
    levels = [(flags, int(k), int(c)) for k in args.per_request.split(",") for c in args.levels.split(",")
              for flags in variants]  # fmt: skip
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        import jasper_tc

        model = build_model(Path(tmp) / "model")
        encoder = jasper_tc.load(model, device="cpu")
        try:
            for flags in variants:
                servers[flags] = start_server(model, flags)
            offline, rounds = [], {level: [] for level in levels}
            for _ in range(args.repeats):
                offline.append(offline_throughput(encoder, inputs, args.ratio))
                for flags, k, c in levels:
                    row = asyncio.run(load(servers[flags][1], inputs, c, args.ratio, k))
                    rounds[(flags, k, c)].append({**row, "x_offline": row["texts_per_s"] / offline[-1]})
        finally:
            for server, _ in servers.values():
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
    rows = []
    for level in levels:
        row = {key: statistics.median(r[key] for r in rounds[level]) for key in rounds[level][0]}
        row["x_range"] = (min(r["x_offline"] for r in rounds[level]), max(r["x_offline"] for r in rounds[level]))
        row["errors"] = sum(r["errors"] for r in rounds[level])  # over every round
        rows.append({**row, "flags": level[0] or "(defaults)"})
    lines = [
        f"# Server load on loopback ({os.cpu_count()} CPU cores, MiniLM-3-layer student, ratio {args.ratio}, "
        f"{args.requests} paragraphs per level)",
        "",
        f"Offline `Encoder.encode` (batch 32), same texts: **{statistics.median(offline):.1f} texts/s** "
        f"(median of {', '.join(f'{x:.1f}' for x in offline)}: one per round).",
        "",
        f"Medians of {args.repeats} rounds; `x offline` is against each round's own offline figure (min-max).",
        "",
        *table_head(
            "server flags",
            "texts/request",
            "concurrency",
            "texts/s",
            "x offline",
            "p50 ms",
            "p99 ms",
            "errors",
            "inputs/forward",
            "client CPU (cores)",
            left=1,
        ),
    ]
    for r in rows:
        low, high = r["x_range"]
        load_cells = (f"{r['per_request']:.0f}", f"{r['concurrency']:.0f}", f"{r['texts_per_s']:.1f}")
        ratio_cell = f"{r['x_offline']:.2f} ({low:.2f}-{high:.2f})"
        latency_cells = (f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['errors']:.0f}")
        machine_cells = (f"{r['per_forward']:.1f}", f"{r['client_cpu']:.2f}")
        lines.append(table_row(f"`{r['flags']}`", *load_cells, ratio_cell, *latency_cells, *machine_cells))
    text = "\n".join(lines) + "\n\nTarget: >= 0.80x offline at concurrency 32.\n"
    print(text)
    write_results(args.name, text)
    plot(rows, statistics.median(offline), RESULTS / f"{args.name}.png")


if __name__ == "__main__":
    main()
