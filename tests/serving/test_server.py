"""The server against a real uvicorn on 127.0.0.1: clients, concurrency, bad input, readiness, shutdown."""

from __future__ import annotations

import asyncio
import base64
import random
import threading
import time

import httpx
import numpy as np
import pytest
import torch

from jasper_tc.serving import ServeConfig

from .conftest import SlowEncoder, running

pytestmark = pytest.mark.slow
KEY = "test-key-123456"
TEXTS = [
    "Token compression shortens long inputs before the transformer runs.",
    "短文本不会被压缩。",
    " ".join(["A long paragraph about the history of trade routes across the ancient world."] * 12),
    "What is the capital of France?",
    " ".join(["中文长段落用于测试压缩。"] * 20),
]


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def error_counts(base: str, headers: dict[str, str] | None = None, *, ready_polls: bool = False) -> dict:
    """``jasper_errors_total`` from ``/metrics``, by (route, kind).

    Without ``ready_polls``, less the not-ready answers of ``/ready``: running() polls it a varying number of times.
    """
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base}/metrics", headers=headers or {}).text
    counts = {
        (sample.labels["route"], sample.labels["kind"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "jasper_errors_total"
    }
    if not ready_polls:
        counts.pop(("/ready", "not_ready"), None)
    return counts


def test_the_openai_client_works_unchanged(minilm_student, offline):
    import openai

    with running(ServeConfig(model=minilm_student, api_key=KEY, name="jasper-mini")) as (base, _):
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0)
        plain = client.embeddings.create(model="jasper-mini", input=TEXTS, encoding_format="float")
        assert plain.model == "jasper-mini" and [d.index for d in plain.data] == list(range(len(TEXTS)))
        expected = offline.encode(TEXTS)  # the model's default ratio
        np.testing.assert_allclose(np.array([d.embedding for d in plain.data]), expected, atol=1e-5)
        assert plain.usage.prompt_tokens == sum(len(offline.tokenize([t], 10**6)[0][0]) for t in TEXTS)

        compressed = client.embeddings.create(  # the client's default encoding is base64
            model="jasper-mini", input=TEXTS, extra_body={"compression_ratio": 0.2, "input_type": "query"}
        )
        expected = offline.encode(TEXTS, compression_ratio=0.2, prompt_name="query")
        np.testing.assert_allclose(np.array([d.embedding for d in compressed.data]), expected, atol=1e-5)
        single = client.embeddings.create(model="jasper-mini", input="one string", encoding_format="float")
        np.testing.assert_allclose(single.data[0].embedding, offline.encode("one string"), atol=1e-5)

        with pytest.raises(openai.BadRequestError, match="dimensions=128 is not supported"):
            client.embeddings.create(model="jasper-mini", input="x", dimensions=128)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="wrong-key-000", max_retries=0).embeddings.create(
                model="jasper-mini", input="x"
            )


def test_64_concurrent_clients_get_offline_embeddings_with_zero_errors(minilm_student, offline):
    ratios = [1.0, 0.5, 0.33, 0.2]
    expected = {r: offline.encode(TEXTS, compression_ratio=r) for r in ratios}
    rng = random.Random(0)
    plan = [
        [(rng.sample(range(len(TEXTS)), rng.randint(1, 4)), rng.choice(ratios), rng.choice(["openai", "tei"]))
         for _ in range(3)]
        for _ in range(64)
    ]  # fmt: skip

    async def client(requests, http: httpx.AsyncClient) -> list[str]:
        problems = []
        for rows, ratio, route in requests:
            texts = [TEXTS[i] for i in rows]
            if route == "openai":
                body = {"input": texts, "compression_ratio": ratio, "encoding_format": "base64"}
                response = await http.post("/v1/embeddings", json=body)
                if response.status_code != 200:
                    problems.append(f"{response.status_code} {response.text}")
                    continue
                got = np.stack(
                    [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in response.json()["data"]]
                )
            else:
                response = await http.post("/embed", json={"inputs": texts, "compression_ratio": ratio})
                if response.status_code != 200:
                    problems.append(f"{response.status_code} {response.text}")
                    continue
                got = np.array(response.json())
            if not np.allclose(got, expected[ratio][rows], atol=1e-5):
                problems.append(f"embeddings differ for rows {rows} at ratio {ratio}")
        return problems

    async def main(base: str) -> list[str]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=base, headers=auth(), timeout=120, limits=limits) as http:
            results = await asyncio.wait_for(asyncio.gather(*(client(p, http) for p in plan)), timeout=300)
        return [p for r in results for p in r]

    config = ServeConfig(model=minilm_student, api_key=KEY, max_wait_ms=20)
    threads_before = torch.get_num_threads()
    with running(config) as (base, _):
        limits = httpx.get(f"{base}/info", headers=auth()).json()["limits"]
        assert limits["max_batch_size"] == 4  # the CPU default, as resolved
        assert limits["model_threads"] == (2 if threads_before > 1 else 1)  # forwards ran side by side
        assert asyncio.run(main(base)) == []
        metrics = httpx.get(f"{base}/metrics", headers=auth()).text
    assert torch.get_num_threads() == threads_before  # the server gave back the threads it shared out
    inputs = sum(len(rows) for requests in plan for rows, _, _ in requests)
    batches = float(
        next(line.split()[-1] for line in metrics.splitlines() if line.startswith("jasper_batch_inputs_count"))
    )
    assert batches < inputs  # inputs of different requests shared forwards
    assert 'jasper_requests_total{route="/v1/embeddings",status="200"}' in metrics
    assert 'jasper_tokens_total{stage="compressed"}' in metrics


BAD = [
    ("post", "/v1/embeddings", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": []}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": ["fine", "  "]}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": [1, 2, 3]}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": "x", "compresion_ratio": 0.5}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": "x", "compression_ratio": 0}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": "x", "compression_ratio": 1.5}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": "x", "input_type": "passage"}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": "x", "encoding_format": "int8"}}, 400),
    ("post", "/v1/embeddings", {"json": {"input": ["x"] * 9}}, 413),
    ("post", "/v1/embeddings", {"json": {"input": "y" * 70000}}, 413),
    ("post", "/v1/embeddings", {"json": {"input": "word " * 300}}, 413),
    ("post", "/embed", {"json": {"inputs": "x", "prompt_name": "nope"}}, 400),
    ("post", "/embed", {"json": {"inputs": "x", "normalize": False}}, 400),
    ("get", "/v1/embeddings", {}, 405),
    ("get", "/nowhere", {}, 404),
]


def test_every_bad_input_gets_its_4xx_and_the_server_keeps_serving(minilm_student, offline):
    config = ServeConfig(
        model=minilm_student, api_key=KEY, max_inputs=8, max_payload_bytes=64_000, max_input_tokens=128
    )
    with running(config) as (base, _), httpx.Client(base_url=base, headers=auth(), timeout=60) as http:
        for method, path, kwargs, status in BAD:
            response = getattr(http, method)(path, **kwargs)
            assert response.status_code == status, (path, kwargs, response.text)
            error = response.json()["error"]
            assert error["message"] and error["type"] and error["code"], response.text
            assert "Traceback" not in response.text
            ok = http.post("/v1/embeddings", json={"input": TEXTS[0]})
            assert ok.status_code == 200
        too_long = http.post("/v1/embeddings", json={"input": "word " * 300})
        assert "input[0] has 302 tokens, more than the limit of 128" in too_long.json()["error"]["message"]
        cut = http.post("/v1/embeddings", json={"input": "word " * 300, "truncate": True, "encoding_format": "float"})
        assert cut.status_code == 200 and cut.json()["usage"]["prompt_tokens"] == 128
        assert http.post("/v1/embeddings", json={"input": "y" * 70000}).json()["error"]["code"] == "payload_too_large"
        assert httpx.get(f"{base}/health").status_code == 200  # no key needed
        for path in ("/ready", "/info", "/metrics"):
            assert httpx.get(f"{base}{path}").status_code == 401
        wrong = httpx.post(f"{base}/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope-nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
        info = http.get("/info").json()
        assert info["dimension"] == 384 and info["max_input_tokens"] == 128 and info["limits"]["max_inputs"] == 8
        errors = error_counts(base, auth())
    assert errors == {  # every error counted by its kind in the one table, on its route
        ("/v1/embeddings", "invalid_request"): 9,
        ("/v1/embeddings", "too_many_inputs"): 1,
        ("/v1/embeddings", "payload_too_large"): 2,
        ("/v1/embeddings", "input_too_long"): 2,
        ("/v1/embeddings", "method_not_allowed"): 1,
        ("/v1/embeddings", "unauthorized"): 1,
        ("/embed", "invalid_request"): 2,
        ("other", "not_found"): 1,
        ("/ready", "unauthorized"): 1,
        ("/info", "unauthorized"): 1,
        ("/metrics", "unauthorized"): 1,
    }


def test_tei_routes(minilm_student, offline):
    with running(ServeConfig(model=minilm_student)) as (base, _), httpx.Client(base_url=base, timeout=60) as http:
        got = http.post("/embed", json={"inputs": TEXTS, "compression_ratio": 0.33}).json()
        np.testing.assert_allclose(np.array(got), offline.encode(TEXTS, compression_ratio=0.33), atol=1e-5)
        tokens = http.post("/tokenize", json={"inputs": ["hello world"]}).json()[0]
        assert [t["id"] for t in tokens] == offline.tokenizer("hello world")["input_ids"]
        assert tokens[0]["special"] and tokens[1]["text"] == "hello" and tokens[1]["start"] == 0


def test_a_token_budget_reads_long_inputs_whole_and_compresses_each_to_fit(minilm_student, offline):
    long = "Token compression reads a whole document by pooling it before any position is used. " * 120
    texts = [long, "a short query", long[: len(long) // 3]]
    config = ServeConfig(model=minilm_student, max_long_input_tokens=4096)
    with running(config) as (base, _), httpx.Client(base_url=base, timeout=60) as http:
        got = http.post("/v1/embeddings", json={"input": texts, "token_budget": 256})
        assert got.status_code == 200, got.text
        vectors = np.array([row["embedding"] for row in got.json()["data"]])
        expected = offline.encode(texts, long_inputs="fit", token_budget=256, max_length=4096)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)  # as offline, whatever the batch mixed
        assert "compression" not in got.json() and "X-Compression-Degraded" not in got.headers
        tei = np.array(http.post("/embed", json={"inputs": texts, "token_budget": 256}).json())
        np.testing.assert_allclose(tei, expected, atol=1e-5)
        # beyond the window without a budget: refused as before; bad budgets name the value and the limit
        assert http.post("/v1/embeddings", json={"input": [long]}).status_code == 413
        for budget, message in ((80, "above the compression threshold of 80"), (5000, "window of 512 positions")):
            bad = http.post("/v1/embeddings", json={"input": texts, "token_budget": budget})
            assert bad.status_code == 400 and message in bad.json()["error"]["message"]
        info = http.get("/info").json()["long_inputs"]
        assert info == {"max_tokens": 4096, "default_token_budget": offline.max_length, "max_token_budget": 512}


def test_ready_is_truthful_before_and_after_loading(minilm_student, offline):
    release = threading.Event()

    def slow_load():
        release.wait(timeout=60)
        return offline

    with running(ServeConfig(model=minilm_student), slow_load, wait_ready=False) as (base, _):
        assert httpx.get(f"{base}/health").status_code == 200
        not_yet = httpx.get(f"{base}/ready")
        assert not_yet.status_code == 503 and not_yet.json()["status"] == "loading"
        early = httpx.post(f"{base}/v1/embeddings", json={"input": "x"})
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        errors = error_counts(base, ready_polls=True)
        assert errors[("/v1/embeddings", "not_ready")] == 1 and errors[("/ready", "not_ready")] == 1
        release.set()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert httpx.post(f"{base}/v1/embeddings", json={"input": "x"}).status_code == 200

    def broken_load():
        raise OSError("no model folder at /missing")

    with running(ServeConfig(model="/missing"), broken_load, wait_ready=False) as (base, _):
        deadline = time.monotonic() + 30
        while (ready := httpx.get(f"{base}/ready")).json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert ready.status_code == 503 and "no model folder at /missing" in ready.json()["error"]
        assert httpx.get(f"{base}/health").status_code == 200


async def post_many(base: str, bodies: list[dict], timeout: float = 60) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
        return await asyncio.gather(*(http.post("/v1/embeddings", json=body) for body in bodies))


def test_concurrent_request_limit_answers_429_with_retry_after(minilm_student, offline):
    config = ServeConfig(model=minilm_student, max_concurrent_requests=2, max_batch_size=1)
    with running(config, lambda: SlowEncoder(offline, 0.3)) as (base, _):
        responses = asyncio.run(post_many(base, [{"input": f"text {i}"} for i in range(6)]))
        errors = error_counts(base)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and 429 in statuses
    assert errors == {("/v1/embeddings", "too_many_requests"): statuses.count(429)}
    rejected = next(r for r in responses if r.status_code == 429)
    assert rejected.headers["retry-after"] == "1" and rejected.json()["error"]["type"] == "rate_limit_error"


def test_overload_compresses_queued_work_before_rejecting_and_says_so(minilm_student, offline):
    long_texts = [f"{i} " + TEXTS[2] for i in range(8)]
    config = ServeConfig(
        model=minilm_student, overload_compression=True, overload_tokens=150, overload_ratio=0.2, max_batch_size=1
    )
    with running(config, lambda: SlowEncoder(offline, 0.2)) as (base, _):
        bodies = [{"input": text, "compression_ratio": 1.0, "encoding_format": "float"} for text in long_texts]
        responses = asyncio.run(post_many(base, bodies))
    assert all(r.status_code == 200 for r in responses)
    degraded = 0
    for text, response in zip(long_texts, responses):  # each says the ratio it ran at, and ran at it
        got = np.array(response.json()["data"][0]["embedding"])
        if "compression" in response.json():
            degraded += 1
            assert response.json()["compression"] == {"requested": 1.0, "applied": [0.2], "reason": "overload"}
            assert response.headers["x-compression-degraded"] == "requested=1.0; applied=0.2"
            np.testing.assert_allclose(got, offline.encode(text, compression_ratio=0.2), atol=1e-5)
        else:
            assert "x-compression-degraded" not in response.headers
            np.testing.assert_allclose(got, offline.encode(text, compression_ratio=1.0), atol=1e-5)
    assert degraded >= len(long_texts) // 2  # the queue held far more than 150 tokens


def test_graceful_shutdown_drains_in_flight_work(minilm_student, offline):
    config = ServeConfig(model=minilm_student, max_batch_size=2)
    results: list[httpx.Response] = []
    with running(config, lambda: SlowEncoder(offline, 0.25)) as (base, server):

        def send_all():
            results.extend(asyncio.run(post_many(base, [{"input": f"text {i}"} for i in range(8)])))

        sender = threading.Thread(target=send_all)
        sender.start()
        deadline = time.monotonic() + 30
        while server.server_state.total_requests < 8:  # all accepted, most still queued
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.should_exit = True  # what SIGTERM does
        sender.join(timeout=60)
    assert [r.status_code for r in results] == [200] * 8


def test_requests_of_departed_clients_are_dropped_before_compute(minilm_student, offline):
    config = ServeConfig(model=minilm_student, max_batch_size=1)
    with running(config, lambda: SlowEncoder(offline, 0.4)) as (base, _):
        with pytest.raises(httpx.ReadTimeout):
            asyncio.run(post_many(base, [{"input": f"gone {i}"} for i in range(6)], timeout=0.2))
        deadline = time.monotonic() + 30
        while True:
            metrics = httpx.get(f"{base}/metrics").text
            dropped = float(next(line.split()[-1] for line in metrics.splitlines()
                                 if line.startswith("jasper_dropped_inputs_total")))  # fmt: skip
            closed = error_counts(base).get(("/v1/embeddings", "client_closed"), 0)
            if (dropped >= 3 and closed >= 3) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert dropped >= 3
        assert closed >= 3  # answered 499, counted by kind
        assert httpx.post(f"{base}/v1/embeddings", json={"input": "still here"}).status_code == 200


def test_a_full_queue_answers_429_overloaded(minilm_student, offline):
    config = ServeConfig(model=minilm_student, max_queue_tokens=300, max_batch_size=1)
    with running(config, lambda: SlowEncoder(offline, 0.3)) as (base, _):
        responses = asyncio.run(post_many(base, [{"input": f"{i} " + TEXTS[2]} for i in range(6)]))
        errors = error_counts(base)
    rejected = [r for r in responses if r.status_code == 429]
    assert errors == {("/v1/embeddings", "overloaded"): len(rejected)}
    assert rejected and any(r.status_code == 200 for r in responses)
    assert rejected[0].json()["error"]["code"] == "overloaded" and rejected[0].headers["retry-after"] == "1"


def test_the_serve_command_runs_and_stops_on_sigterm(minilm_student, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from .conftest import free_port

    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", JASPER_TC_API_KEY=KEY)
    command = [sys.executable, "-m", "jasper_tc", "serve", "--model", minilm_student, "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the server did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", headers=auth()).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        response = httpx.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"input": "x"}, headers=auth())
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    # uvicorn shuts down cleanly, then re-raises the signal so that the exit status says what stopped it
    assert process.returncode in (0, -signal.SIGTERM), out.decode()[-2000:]
    assert "Application shutdown complete" in out.decode()

    bad = subprocess.run([*command[:-2], "--port", "99999"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "port must be in 0..65535" in bad.stderr


def test_token_ids_are_refused_with_a_400_that_names_the_fix(minilm_student):
    with running(ServeConfig(model=minilm_student)) as (base, _), httpx.Client(base_url=base, timeout=60) as http:
        for ids in ([[101, 2023, 102]], [101, 2023, 102], 2023):
            response = http.post("/v1/embeddings", json={"input": ids})
            assert response.status_code == 400, response.text
            message = response.json()["error"]["message"]
            assert "token ids are not accepted" in message and "check_embedding_ctx_length=False" in message
        mixed = http.post("/v1/embeddings", json={"input": ["text", {"a": 1}]})
        assert mixed.status_code == 400 and "token ids" not in mixed.json()["error"]["message"]


def test_langchain_and_llamaindex_clients_work_unchanged(minilm_student, offline):
    from langchain_openai import OpenAIEmbeddings
    from llama_index.embeddings.openai import OpenAIEmbedding

    with running(ServeConfig(model=minilm_student, api_key=KEY, name="jasper-mini")) as (base, _):
        langchain = OpenAIEmbeddings(
            model="jasper-mini", base_url=f"{base}/v1", api_key=KEY, check_embedding_ctx_length=False, max_retries=0
        )
        np.testing.assert_allclose(langchain.embed_documents(TEXTS), offline.encode(TEXTS), atol=1e-5)
        np.testing.assert_allclose(langchain.embed_query(TEXTS[0]), offline.encode(TEXTS[0]), atol=1e-5)
        # by default LangChain sends tiktoken's token ids (tiktoken's files need the network; its request is this)
        import openai

        client = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError, match="check_embedding_ctx_length=False"):
            client.embeddings.create(model="jasper-mini", input=[[1820, 374, 264], [14924, 30]])

        llama = OpenAIEmbedding(model_name="jasper-mini", api_base=f"{base}/v1", api_key=KEY, max_retries=0)
        np.testing.assert_allclose(llama.get_text_embedding_batch(TEXTS), offline.encode(TEXTS), atol=1e-5)
        np.testing.assert_allclose(llama.get_query_embedding(TEXTS[3]), offline.encode(TEXTS[3]), atol=1e-5)
