#!/usr/bin/env bash
# The GPU checks, prepared to run in one call on a lent GPU machine (e.g. the device tool):
#   bash benchmarks/gpu_check.sh            # results land in benchmarks/results/ and, if set, in $OUT
# Installs the package (the machine's CUDA torch is kept), then times the 600M-shaped model in bf16
# with sdpa at batch 32 over all 28 layers, lengths 128-2048, ratios 1 -> 0.1; then stage-3 training steps;
# then long documents (compress-to-fit vs chunking, 2k-32k tokens); then encode throughput at ratios 1 -> 0.1,
# padded and padding-free.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e . 2>&1 | grep -v "^WARNING" || true
nvidia-smi --query-gpu=name,memory.total --format=csv
python benchmarks/compression_speed.py --device cuda --batch-size 32 --layers 28 --dtypes bf16 \
    --compressor-dtypes bf16 --repeats 5 --out compression_speed-cuda
if [ -n "${OUT:-}" ]; then cp benchmarks/results/compression_speed-cuda.* "$OUT"/; fi
# Training: a few stage-3 steps of the 600M-shaped model (random weights), bf16 autocast, gradient
# checkpointing, micro-batch 4 x 1024 tokens x accumulation 4; tokens/s and peak memory.
python benchmarks/train_gpu.py --batch-size 4 --accumulation 4 --steps 6 --json benchmarks/results/train_gpu-cuda.json
python benchmarks/train_gpu.py --batch-size 4 --accumulation 4 --steps 4 --gradient-cache \
    --json benchmarks/results/train_gpu-cuda-cache.json
if [ -n "${OUT:-}" ]; then cp benchmarks/results/train_gpu-cuda*.json "$OUT"/; fi
# Long documents: compress-to-fit (512 / 1,024 positions) against chunk-and-mean, one document of 2k-32k tokens.
python benchmarks/long_inputs_speed.py --device cuda --layers 28 --dtype bf16 --repeats 3
if [ -n "${OUT:-}" ]; then cp benchmarks/results/long_inputs_speed-gpu.* "$OUT"/; fi
# Encode throughput of the 600M shape, ratios 1 -> 0.1, padded against padding-free batches (flash-attention's
# variable-length kernels when flash-attn is installed, else sdpa's block-diagonal mask).
ATTN=sdpa; python -c "import flash_attn" 2>/dev/null && ATTN=flash_attention_2
python benchmarks/gpu_encode.py --device cuda --dtype bf16 --attn "$ATTN" --texts 512 --max-length 1024
if [ -n "${OUT:-}" ]; then cp benchmarks/results/gpu_encode-cuda.* "$OUT"/; fi
