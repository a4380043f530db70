"""Stage constructors on the real all-MiniLM-L6-v2 (a BERT backbone with absolute positions)."""

from __future__ import annotations

import pytest
import torch

from jasper_tc import JasperTCModel, build_student, insert_jasper_mlp
from jasper_tc.model import init_jasper_mlp, keep_first_layers

pytestmark = pytest.mark.slow

TEXTS = [
    "A man is playing a guitar.",
    "Token compression shortens long inputs before the transformer layers run. " * 12,
    "Short.",
    "The quick brown fox jumps over the lazy dog while the cat watches from the window sill. " * 5,
]


def test_student_without_compressor_reproduces_the_backbone(minilm_path):
    from sentence_transformers import SentenceTransformer

    model, tokenizer = build_student(minilm_path, embedding_dim=384)
    with torch.no_grad():
        model.linear_1.weight.copy_(torch.eye(384))
        model.linear_1.bias.zero_()
    model.eval()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = torch.nn.functional.normalize(model(**batch), dim=-1)
    theirs = SentenceTransformer(minilm_path, device="cpu").encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


def test_truncated_student_with_jasper_mlp_is_batch_invariant_and_round_trips(minilm_path, tmp_path):
    from sentence_transformers import SentenceTransformer

    model, tokenizer = build_student(minilm_path, embedding_dim=256, num_layers=3, with_jasper_mlp=True)
    model.eval()
    assert model.config.text_config.num_hidden_layers == 3 and len(model.model.encoder.layer) == 3
    assert tokenizer.padding_side == model.config.padding_side == "right"
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        together = model(**batch, compression_ratio=0.3)
        for i, text in enumerate(TEXTS):
            alone = model(**tokenizer([text], return_tensors="pt"), compression_ratio=0.3)
            torch.testing.assert_close(together[i], alone[0], atol=1e-5, rtol=1e-5)

    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    loaded = JasperTCModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch, compression_ratio=0.3), together, atol=0, rtol=0)
    st = SentenceTransformer(str(tmp_path), device="cpu")
    assert st.get_embedding_dimension() == 256
    encoded = st.encode(TEXTS, convert_to_tensor=True, compression_ratio=0.3)
    torch.testing.assert_close(encoded, torch.nn.functional.normalize(together, dim=-1), atol=1e-5, rtol=1e-4)


def test_identity_init_keeps_token_embeddings_close_and_random_init_does_not(minilm_path):
    model, _ = build_student(minilm_path, embedding_dim=64, num_layers=1)
    insert_jasper_mlp(model, mlp_init="identity")
    assert init_jasper_mlp(model, "identity") > 0.8
    assert abs(init_jasper_mlp(model, "random")) < 0.2
    with pytest.raises(ValueError, match="mlp_init must be 'random', 'identity' or 'residual'"):
        init_jasper_mlp(model, "zeros")


def test_insert_jasper_mlp_validates_before_changing_anything(minilm_path):
    model, _ = build_student(minilm_path, embedding_dim=32, num_layers=1)
    with pytest.raises(ValueError, match="length_threshold"):
        insert_jasper_mlp(model, length_threshold=-3)
    assert model.jasper_mlp is None and not model.config.use_jasper_mlp and model.config.length_threshold == 80


def test_keep_first_layers_checks_its_range(minilm_path):
    from transformers import AutoModel

    backbone = AutoModel.from_pretrained(minilm_path)
    with pytest.raises(ValueError, match="between 1 and 6"):
        keep_first_layers(backbone, 7)
    keep_first_layers(backbone, 2)
    assert backbone.config.num_hidden_layers == 2


def test_identity_linear_1_starts_the_student_at_its_backbone_embedding(minilm_path):
    import pytest
    import torch

    from jasper_tc import build_student

    model, _ = build_student(minilm_path, 384, num_layers=3, linear_init="identity")
    assert torch.equal(model.linear_1.weight, torch.eye(384)) and not model.linear_1.bias.any()
    with pytest.raises(ValueError, match="needs embedding_dim == hidden size \\(384\\), got 256"):
        build_student(minilm_path, 256, num_layers=1, linear_init="identity")


def test_a_residual_mlp_starts_as_training_free_pooling_and_round_trips(minilm_path, tmp_path):
    """x + jasper_mlp(x) with the output projection at zero: step 0 is the model it started from, pooled
    training-free, exactly; the choice is saved with the model and read back by every loader."""
    from sentence_transformers import SentenceTransformer

    import jasper_tc

    model, tokenizer = build_student(minilm_path, embedding_dim=384, linear_init="identity")
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = {r: model.eval()(**batch, compression_ratio=r) for r in (1.0, 0.3)}
    insert_jasper_mlp(model, mlp_init="residual", compression_ratio=0.3)
    assert model.config.jasper_mlp_residual and not model.jasper_mlp.down_proj.weight.any()
    assert model.jasper_mlp.gate_proj.weight.std() > 0  # gradients reach the MLP once down_proj moves
    with torch.no_grad():
        for ratio, expected in before.items():
            torch.testing.assert_close(model.eval()(**batch, compression_ratio=ratio), expected, atol=0, rtol=0)
        model.jasper_mlp.down_proj.weight.normal_(0, 0.02)  # a trained MLP: the residual form must survive saving
        trained = model(**batch, compression_ratio=0.3)
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    assert jasper_tc.JasperTCConfig.from_pretrained(tmp_path).jasper_mlp_residual is True
    ours = jasper_tc.load(str(tmp_path), device="cpu").encode(TEXTS, compression_ratio=0.3)
    torch.testing.assert_close(
        torch.from_numpy(ours), torch.nn.functional.normalize(trained, dim=-1), atol=1e-5, rtol=1e-4
    )
    st = SentenceTransformer(str(tmp_path), device="cpu").encode(TEXTS, compression_ratio=0.3, convert_to_tensor=True)
    torch.testing.assert_close(st, torch.nn.functional.normalize(trained, dim=-1), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="mlp_init 'residual' does not fit a plain jasper_mlp"):
        model.config.jasper_mlp_residual = False
        init_jasper_mlp(model, "residual")
