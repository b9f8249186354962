"""Initial word vectors for students.

The paper's students start from 300-d word2vec (GoogleNews). Sources here:

- a user-supplied word2vec or GloVe file (text, or word2vec binary `.bin`);
- `"teacher"`: the teacher's own word-piece embeddings, averaged over the
  pieces of each word (offline, 384-d for MiniLM);
- `"teacher_pca"`: the same vectors reduced to the student's width with
  PCA (their leading principal components), so a small student starts
  from the teacher's word geometry without growing to 384-d;
- `"lsa"`: vectors learnt from the training split (positive PMI of word
  co-occurrence in documents, reduced with truncated SVD);
- `"random"`: uniform in [-0.25, 0.25] as hedwig's `rand` mode.

Every function returns a matrix aligned with a `kdkeras.text.WordTokenizer`
in `"int"` mode: row 0 padding (zeros), row 1 out-of-vocabulary, then one row
per vocabulary word.
"""

import os

import numpy as np

SOURCES = ("random", "teacher", "teacher_pca", "lsa")
_RANDOM_STD = 0.25 / np.sqrt(3)  # per-coordinate std of uniform(-0.25, 0.25)


def _matrix(vocabulary, dim, seed):
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.25, 0.25, size=(len(vocabulary) + 2, dim)).astype("float32")
    matrix[0] = 0.0
    return matrix


def initializer(embeddings=None, seed=None):
    """The Keras initializer of a student's embedding layer: `embeddings` when given, else uniform in [-0.25, 0.25].

    Example:
    >>> layers.Embedding(vocabulary_size, 64, embeddings_initializer=initializer(vectors))
    """
    import keras  # noqa: PLC0415 (the vector sources of this module need only NumPy)

    if embeddings is not None:
        return keras.initializers.Constant(embeddings)
    return keras.initializers.RandomUniform(-0.25, 0.25, seed=seed)


def random_vectors(vocabulary, dim=300, seed=0):
    """Uniform random vectors (hedwig's `rand` initialisation)."""
    return _matrix(vocabulary, dim, seed)


def load_word_vectors(path, vocabulary, seed=0):
    """Reads word2vec (text or binary) or GloVe vectors for `vocabulary`.

    Words missing from the file keep small random vectors. Text files may
    start with a `count dim` header line (word2vec) or not (GloVe).

    Returns:
        `(matrix, hits)`: the embedding matrix and how many words were found.
    """
    index = {w: i + 2 for i, w in enumerate(vocabulary)}
    wanted = {}
    if path.endswith(".bin"):
        with open(path, "rb") as f:
            count, dim = map(int, f.readline().split())
            for _ in range(count):
                word = bytearray()
                while (c := f.read(1)) != b" ":
                    if not c:
                        raise ValueError(f"{path}: truncated word2vec binary file")
                    if c != b"\n":
                        word += c
                vector = np.frombuffer(f.read(4 * dim), dtype="<f4")
                w = word.decode("utf-8", errors="replace")
                if w in index:
                    wanted[w] = vector
    else:
        dim = None
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.rstrip().split(" ")
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec text header
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) != dim + 1:
                    raise ValueError(f"{path}:{lineno}: expected {dim} values, found {len(parts) - 1}")
                if parts[0] in index:
                    wanted[parts[0]] = np.asarray(parts[1:], dtype="float32")
        if dim is None:
            raise ValueError(f"{path}: no vectors")
    matrix = _matrix(vocabulary, dim, seed)
    for word, vector in wanted.items():
        matrix[index[word]] = vector
    return matrix, len(wanted)


def teacher_vectors(vocabulary, backbone_dir=None):
    """Word vectors from a BERT checkpoint's word-piece embeddings.

    Each word is split into word pieces by the checkpoint's own tokenizer
    and its vector is the mean of the pieces' input embeddings.

    Args:
        vocabulary: words, in tokenizer order.
        backbone_dir: HuggingFace BERT folder; defaults to MiniLM.
    """
    import keras_hub
    from safetensors.numpy import load_file

    from kdkeras.models import backbones

    backbone_dir = backbone_dir or backbones.minilm_dir()
    weights = load_file(os.path.join(backbone_dir, "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("embeddings.word_embeddings.weight"))
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=os.path.join(backbone_dir, "vocab.txt"), lowercase=True, strip_accents=True
    )
    matrix = np.zeros((len(vocabulary) + 2, table.shape[1]), "float32")
    pieces = tokenizer(list(vocabulary))
    pieces = pieces.to_list() if hasattr(pieces, "to_list") else pieces
    for i, ids in enumerate(pieces):
        if ids:
            matrix[i + 2] = table[ids].mean(axis=0)
    matrix[1] = table[tokenizer.token_to_id("[UNK]")]
    return matrix


def reduce_vectors(matrix, dim):
    """Projects word vectors on their `dim` leading principal components.

    Row 0 (padding) stays zero; the other rows are centred on the mean word
    vector, projected, and scaled so that each coordinate has the standard
    deviation of hedwig's uniform(-0.25, 0.25) initialisation (the scale the
    students' other settings were tuned at).

    Args:
        matrix: `(rows, width)` vectors aligned with a tokenizer (row 0 padding).
        dim: output width; at least `width` returns the matrix unchanged.

    Example:
    >>> reduce_vectors(teacher_vectors(vocabulary), 64).shape
    (len(vocabulary) + 2, 64)
    """
    if dim >= matrix.shape[1]:
        return matrix
    words = matrix[1:].astype("float64")
    centred = words - words.mean(axis=0)
    _, _, components = np.linalg.svd(centred[np.any(centred != 0, axis=1)], full_matrices=False)
    projected = centred @ components[:dim].T
    projected *= _RANDOM_STD / (projected.std() + 1e-12)
    out = np.zeros((matrix.shape[0], dim), "float32")
    out[1:] = projected
    return out


def lsa_vectors(texts, vocabulary, dim=300, seed=0):
    """Vectors learnt from `texts`: positive PMI of document co-occurrence + truncated SVD."""
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(vocabulary={w: i for i, w in enumerate(vocabulary)}, binary=True,
                                 token_pattern=r"(?u)\b\w+\b", lowercase=True)
    docs = vectorizer.transform(texts).astype("float64")
    cooc = (docs.T @ docs).tocoo()
    total = cooc.data.sum()
    row = np.asarray(docs.sum(axis=0)).ravel()
    pmi = np.log(cooc.data * total / (row[cooc.row] * row[cooc.col] + 1e-12) + 1e-12)
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (cooc.row[keep], cooc.col[keep])), shape=cooc.shape)
    dim = min(dim, max(1, len(vocabulary) - 1))
    vectors = TruncatedSVD(dim, random_state=seed).fit_transform(ppmi).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-6
    vectors *= 0.25 * np.sqrt(3)  # match the scale of uniform(-0.25, 0.25) rows
    matrix = _matrix(vocabulary, dim, seed)
    matrix[2:] = vectors
    return matrix


def word_vectors(source, vocabulary, texts=None, dim=300, seed=0):
    """Dispatches on `source`: "random", "teacher", "lsa" or a file path.

    Returns the embedding matrix (its width may differ from `dim` for
    "teacher" and files).
    """
    if source == "random":
        return random_vectors(vocabulary, dim, seed)
    if source == "teacher":
        return teacher_vectors(vocabulary)
    if source == "teacher_pca":
        return reduce_vectors(teacher_vectors(vocabulary), dim)
    if source == "lsa":
        return lsa_vectors(texts, vocabulary, dim, seed)
    if os.path.isfile(source):
        return load_word_vectors(source, vocabulary, seed)[0]
    raise ValueError(f"word vectors must be one of {SOURCES} or an existing file, got {source!r}")
