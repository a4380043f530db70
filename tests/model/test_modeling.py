"""JasperTCModel: batch invariance, per-call ratios, save/load, release layout, sentence-transformers."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from jasper_tc import JasperTCConfig, JasperTCModel, compressed_length

from ..helpers import tiny_qwen3_config
from .reference import reference_release_forward


def left_padded(rows: list[torch.Tensor], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, longest - len(r) :] = r
        mask[i, longest - len(r) :] = 1
    return ids, mask


def random_rows(lengths, vocab=512, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(1, vocab, (n,), generator=generator) for n in lengths]


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.2])
def test_embedding_alone_equals_embedding_in_a_padded_batch(tiny_model, ratio):
    rows = random_rows([300, 20, 120, 81])
    ids, mask = left_padded(rows)
    with torch.no_grad():
        batched = tiny_model(ids, mask, compression_ratio=ratio)
        for i, row in enumerate(rows):
            alone = tiny_model(row.unsqueeze(0), compression_ratio=ratio)
            torch.testing.assert_close(batched[i], alone[0], atol=1e-5, rtol=1e-5)


def test_right_padding_gives_the_same_embeddings(tiny_model):
    rows = random_rows([200, 50])
    ids, mask = left_padded(rows)
    right_ids, right_mask = torch.zeros_like(ids), torch.zeros_like(mask)
    for i, r in enumerate(rows):
        right_ids[i, : len(r)], right_mask[i, : len(r)] = r, 1
    with torch.no_grad():
        torch.testing.assert_close(
            tiny_model(ids, mask, compression_ratio=0.3),
            tiny_model(right_ids, right_mask, compression_ratio=0.3),
            atol=1e-5,
            rtol=1e-5,
        )


def test_output_is_unnormalised_and_of_configured_size(tiny_model):
    with torch.no_grad():
        out = tiny_model(random_rows([10])[0].unsqueeze(0))
    assert out.shape == (1, 48)
    assert not torch.isclose(out.norm(), torch.tensor(1.0))


def test_ratio_per_call_changes_output_and_does_not_stick(tiny_model):
    ids = random_rows([400])[0].unsqueeze(0)
    with torch.no_grad():
        default = tiny_model(ids)
        small = tiny_model(ids, compression_ratio=0.1)
        again = tiny_model(ids)
    assert not torch.allclose(default, small)
    torch.testing.assert_close(default, again, atol=0, rtol=0)
    assert tiny_model.token_compressor.compression_ratio == 0.5


def test_bad_ratio_is_a_value_error(tiny_model):
    ids = random_rows([10])[0].unsqueeze(0)
    for bad in (0, 1.01, -1):
        with pytest.raises(ValueError, match=f"compression_ratio must be in \\(0, 1\\], got {bad}"):
            tiny_model(ids, compression_ratio=bad)


def test_gradients_reach_jasper_mlp_through_the_compressor(tiny_model):
    tiny_model.train()
    ids, mask = left_padded(random_rows([250, 100]))
    tiny_model(ids, mask, compression_ratio=0.25).pow(2).sum().backward()
    for name in ("gate_proj", "up_proj", "down_proj"):
        grad = getattr(tiny_model.jasper_mlp, name).weight.grad
        assert grad is not None and grad.abs().sum() > 0
    assert tiny_model.model.embed_tokens.weight.grad.abs().sum() > 0


def test_save_and_load_round_trip(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    loaded = JasperTCModel.from_pretrained(tmp_path).eval()
    ids, mask = left_padded(random_rows([300, 30]))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask), tiny_model(ids, mask), atol=0, rtol=0)
        torch.testing.assert_close(
            loaded(ids, mask, compression_ratio=0.2), tiny_model(ids, mask, compression_ratio=0.2), atol=0, rtol=0
        )
    assert loaded.config.embedding_dim == 48 and loaded.config.compression_ratio == 0.5


def write_release_folder(model: JasperTCModel, folder) -> None:
    """A folder laid out like the release: a stock qwen3 config naming JasperV2Encoder, release keys."""
    folder.mkdir(exist_ok=True)
    config = model.config.text_config.to_dict()
    config["architectures"] = ["JasperV2Encoder"]
    config["auto_map"] = {"AutoModel": "modeling_qwen3_jasper.JasperV2Encoder"}
    config["torch_dtype"] = "float32"
    config["vector_dim"] = model.config.embedding_dim
    config["length_threshold"] = 80
    config["compression_ratio"] = 0.5
    (folder / "config.json").write_text(json.dumps(config))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def test_release_layout_loads_without_remote_code_and_gives_release_outputs(tiny_model, tmp_path):
    release = tmp_path / "release"
    write_release_folder(tiny_model, release)
    keys = set(json.loads((release / "config.json").read_text()))
    assert "architectures" in keys and "model_type" in keys
    loaded = JasperTCModel.from_pretrained(release).eval()
    assert loaded.config.embedding_dim == 48 and loaded.config.length_threshold == 80
    rows = random_rows([300, 81, 40, 1030])
    ids, mask = left_padded(rows)
    mlp = loaded.jasper_mlp
    with torch.no_grad():
        for ratio in (0.5, 0.3333, 0.1):
            expected = reference_release_forward(
                loaded.model,
                (mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight),
                loaded.linear_1.weight,
                loaded.linear_1.bias,
                ids,
                mask,
                ratio,
            )
            torch.testing.assert_close(loaded(ids, mask, compression_ratio=ratio), expected, atol=1e-5, rtol=1e-4)


def test_release_weights_that_do_not_fit_name_the_keys(tiny_model, tmp_path):
    release = tmp_path / "release"
    write_release_folder(tiny_model, release)
    state = {k: v.contiguous() for k, v in tiny_model.state_dict().items() if not k.startswith("jasper_mlp.")}
    state["old_head.weight"] = torch.zeros(2, 2)
    save_file(state, str(release / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys \[jasper_mlp.down_proj.weight") as error:
        JasperTCModel.from_pretrained(release)
    assert "unexpected keys [old_head.weight]" in str(error.value)


def test_a_plain_backbone_folder_is_refused_with_a_pointer(tmp_path):
    from transformers import Qwen3Model

    Qwen3Model(tiny_qwen3_config()).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"not a Jasper-TC checkpoint.*model_type 'qwen3'.*build_student"):
        JasperTCModel.from_pretrained(tmp_path)


def test_invalid_config_values_are_all_reported():
    with pytest.raises(ValueError) as error:
        JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=0, compression_ratio=2.0, padding_side="up")
    message = str(error.value)
    assert "embedding_dim" in message and "compression_ratio" in message and "padding_side" in message


def test_model_without_compressor_runs_uncompressed_by_default_and_pools_when_asked():
    torch.manual_seed(0)
    config = JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=16, use_jasper_mlp=False)
    model = JasperTCModel(config).eval()
    assert model.jasper_mlp is None
    assert not any(k.startswith("jasper_mlp") for k in model.state_dict())
    ids = random_rows([200])[0].unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(model(ids), model(ids, compression_ratio=1.0), atol=0, rtol=0)
        assert not torch.allclose(model(ids), model(ids, compression_ratio=0.2))


def test_folders_saved_under_the_old_key_names_still_load(tmp_path):
    config = JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=16, jasper_mlp_intermediate_size=24)
    JasperTCModel(config).save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    raw["use_compressor"], raw["compressor_intermediate_size"] = (
        raw.pop("use_jasper_mlp"),
        raw.pop("jasper_mlp_intermediate_size"),
    )
    (tmp_path / "config.json").write_text(json.dumps(raw))
    loaded = JasperTCModel.from_pretrained(tmp_path)
    assert loaded.config.use_jasper_mlp and loaded.jasper_mlp.gate_proj.out_features == 24
    raw["use_compressor"] = False
    (tmp_path / "config.json").write_text(json.dumps(raw))
    assert JasperTCConfig.from_pretrained(tmp_path).use_jasper_mlp is False


def test_sentence_transformers_loads_the_folder_and_passes_the_ratio(tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer

    from ..helpers import QWEN3_TOKENIZER

    tokenizer = AutoTokenizer.from_pretrained(QWEN3_TOKENIZER)
    torch.manual_seed(0)
    config = JasperTCConfig(text_config=tiny_qwen3_config(vocab_size=len(tokenizer)), embedding_dim=40)
    model = JasperTCModel(config).eval()
    model.save_pretrained(tmp_path, tokenizer=tokenizer)

    st = SentenceTransformer(str(tmp_path), device="cpu")
    dimension = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    assert dimension() == 40
    assert st.prompts["query"].startswith("Instruct: Given a web search query")
    long_text = "token compression " * 200
    texts = ["a short text", long_text]
    default = st.encode(texts, convert_to_tensor=True)
    compressed = st.encode(texts, convert_to_tensor=True, compression_ratio=0.1)
    assert torch.allclose(default[0], compressed[0], atol=1e-6)  # short: never compressed
    assert not torch.allclose(default[1], compressed[1], atol=1e-3)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        direct = torch.nn.functional.normalize(model(**batch, compression_ratio=0.1), dim=-1)
    torch.testing.assert_close(compressed, direct, atol=1e-5, rtol=1e-4)
    assert int(batch["attention_mask"][1].sum()) > compressed_length(int(batch["attention_mask"][1].sum()), 0.1)


def test_the_residual_form_is_off_unless_the_config_says_so(tmp_path):
    """Release folders and earlier checkpoints have no such key: they keep replacing the embeddings."""
    config = JasperTCConfig(text_config=tiny_qwen3_config(), embedding_dim=16)
    assert config.jasper_mlp_residual is False
    torch.manual_seed(0)
    model = JasperTCModel(config).eval()
    ids = random_rows([120])[0].unsqueeze(0)
    with torch.no_grad():
        plain = model(ids, compression_ratio=0.5)
        model.config.jasper_mlp_residual = True
        residual = model(ids, compression_ratio=0.5)
        torch.nn.init.zeros_(model.jasper_mlp.down_proj.weight)
        zero_mlp = model(ids, compression_ratio=0.5)
        model.jasper_mlp = None
        model.config.use_jasper_mlp = False
        no_mlp = model(ids, compression_ratio=0.5)
    assert not torch.allclose(plain, residual)
    torch.testing.assert_close(zero_mlp, no_mlp, atol=0, rtol=0)
