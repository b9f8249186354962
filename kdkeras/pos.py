"""Fast POS tagging for the transfer set: spaCy's tags, learned once from a sample, then looked up.

`augment.Tagger` runs spaCy's small English model on every document (about
110 Reuters documents/s on one core). `FastTagger` gives the same output
(sentences of `(text, whitespace, pos)`, with spaCy's tokens and rule-based
sentences exactly) more than ten times faster:

* Tokens and sentences: spaCy's tokenizer splits each whitespace-delimited
  chunk on its own, so each distinct chunk is tokenized once (plain words
  and numbers need no tokenizer at all, the build sample's other chunks come
  with the tagger, the rest go through spaCy, batched) and cached with its
  tokens, their features and what spaCy's rule-based sentencizer does
  inside it; a document is then its chunks looked up.
* Tags: spaCy tags a bounded sample of the corpus once; a linear model
  (`LinearSVC`) learns them from cheap features: the word (its "lexicon"
  entry), its case-sensitive form, suffixes and shape, the words and shapes
  around it (two each side) and the word pairs it is part of. Every feature
  is a row of a weight table, so tagging a batch is table look-ups summed
  with numpy; words outside the sample fall back to suffix and shape.

The sample is the `sample_size` documents with the smallest sha256 of their
text (`choose_sample`), so the tagger built from a corpus does not depend on
the corpus's order or on who builds it; the Beam job builds it once and
ships it to the workers as a side input. On Reuters, a tagger built from
1,000 train documents (≈ 19 s) agrees with spaCy on 96.3 % of the tokens of
the other train documents (96.2 % of word tokens) and tags about 1,700
documents/s on one core, 3,700 once their chunks are cached
(`pipelines/benchmark_augment.py`, `docs/results/augment_reuters.json`).

Example:
>>> tagger = FastTagger.build(corpus_texts, sample_size=1000)  # spaCy tags 1,000 documents once
>>> doc, = tagger.tag(["Oil prices rose. Wheat fell sharply."])
>>> doc[0][1]
('prices', ' ', 'NOUN')
>>> copy.deepcopy(tagger)  # what a Beam side input gets: the model (about 6 MB), no caches
"""

import collections
import hashlib
import itertools
import operator
import re
import string
import threading

import numpy as np

from kdkeras import augment

_WS_RUNS = re.compile(r"(\s+)")  # Python's \s is str.isspace, spaCy's whitespace
_UNKNOWN, _PAD = 0, 1  # ids shared by every vocabulary: not in the sample's vocabulary / beyond the document
_FEATURES = ("word", "form", "suffix3", "suffix2", "suffix1", "shape")  # a token's own, from its text
_NORMAL, _PUNCT, _SENT_END = 0, 1, 2  # tokens as the sentencizer sees them
_SLOTS = _FEATURES + ("word-1", "word+1", "word-2", "word+2", "shape-1", "shape+1", "pair-1", "pair+1")
_SLOT_VOCABULARY = {slot: re.split("[-+]", slot)[0] for slot in _SLOTS}  # word-1 -> word (pair: pairs)
_PADDING = (0, _PAD) * 2  # two rows of (type row, word id) between documents
_FIRST, _SECOND, _THIRD = (operator.itemgetter(i) for i in range(3))
_chain = itertools.chain.from_iterable
_ASCII_SHAPE = str.maketrans(string.ascii_uppercase + string.ascii_lowercase + string.digits,
                             "X" * 26 + "x" * 26 + "d" * 10)
_LONG_RUNS = re.compile(r"(.)\1\1+", re.DOTALL)
_LETTER_RUNS = tuple((re.compile(c * 3 + "+"), c * 2) for c in "xXd")
_ONE_CODE = (_NORMAL,)  # the sentencizer codes of a chunk that is one ordinary token
_ONE_WORD = (((), False), ((0,), False))  # and its `_transitions`
_SPACED = (" ",)  # and its whitespace when a space follows
_TOKENIZER = {}  # "en" -> (tokenizer, special cases, sentence-final characters, lock): loaded once per process
_LOAD_LOCK = threading.Lock()


def sample_key(text):
    """The sort key that picks the build sample: the sha256 of the text (hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def choose_sample(texts, *, sample_size):
    """The texts `FastTagger.build` learns from: the `sample_size` smallest by `sample_key`, duplicates then dropped.

    Does not depend on the order of `texts`; a Beam job gets the same list
    from `beam.combiners.Top.Smallest(sample_size, key=sample_key)`.

    Args:
        texts: the corpus.
        sample_size: how many texts to take (before dropping duplicates).

    Returns:
        The sampled texts, sorted by `sample_key`.

    Example:
    >>> choose_sample(["b", "a", "c", "a"], sample_size=2) == choose_sample(["c", "a", "a", "b"], sample_size=2)
    True
    """
    return sorted(set(sorted(texts, key=sample_key)[:sample_size]), key=sample_key)


def _tokenizer():
    """spaCy's English tokenizer (the tagging model's own), its special cases, sentence-final characters, a lock."""
    with _LOAD_LOCK:
        if "en" not in _TOKENIZER:
            from spacy.pipeline import Sentencizer

            tokenizer = augment._load_spacy(tokenizer_only=True).tokenizer
            _TOKENIZER["en"] = (tokenizer, frozenset(tokenizer.rules), frozenset(Sentencizer.default_punct_chars),
                                threading.Lock())
    return _TOKENIZER["en"]


def _split_chunks(chunks, known=None):
    """spaCy's tokens of each whitespace-free chunk: `[(token texts, sentencizer codes)]` (tuples).

    A chunk of ASCII letters only, or digits only, is one token unless it is
    one of the tokenizer's special cases ("cannot" → "can", "not"): no
    prefix, suffix, infix or URL rule of spaCy's English tokenizer applies
    to it. Chunks in `known` (`{chunk: (texts, codes)}`, from an earlier
    call) are taken from there; the others go through spaCy's tokenizer, in
    one call.
    """
    tokenizer, special, sent_end, lock = _tokenizer()
    known = known or {}
    out = [None] * len(chunks)
    hard = []
    for i, chunk in enumerate(chunks):
        if _is_simple(chunk, special):
            out[i] = ((chunk,), _ONE_CODE)
        elif chunk in known:
            out[i] = known[chunk]
        else:
            hard.append(i)
    if hard:
        with lock:  # spaCy's tokenizer caches as it goes: one thread at a time
            doc = tokenizer(" ".join(chunks[i] for i in hard))
        at, texts, codes = iter(hard), [], []
        for token in doc:
            text = token.text
            texts.append(text)
            codes.append(_SENT_END if text in sent_end else _PUNCT if token.is_punct else _NORMAL)
            if token.whitespace_:
                out[next(at)] = (tuple(texts), tuple(codes))
                texts, codes = [], []
        out[next(at)] = (tuple(texts), tuple(codes))
        if next(at, None) is not None:
            raise AssertionError("spaCy's tokenizer merged chunks")
    return out


def _is_simple(chunk, special):
    """Whether spaCy's tokenizer leaves a chunk whole without looking (see `_split_chunks`)."""
    return chunk.isascii() and (chunk.isalpha() or chunk.isdigit()) and chunk not in special


def _spacy_chunks(texts):
    """`{chunk: (token texts, codes)}` of the chunks of `texts` that need spaCy's tokenizer (see `_split_chunks`)."""
    special = _tokenizer()[1]
    chunks = sorted({c for text in texts for c in text.split() if not _is_simple(c, special)})
    return dict(zip(chunks, _split_chunks(chunks)))


def _transitions(codes):
    """What spaCy's sentencizer does inside a chunk: for an incoming "after a full stop" state (False,
    True), the token positions that start a sentence and the outgoing state."""
    if codes == _ONE_CODE:
        return _ONE_WORD
    out = []
    for seen in (False, True):
        starts = []
        for i, code in enumerate(codes):
            if seen and code == _NORMAL:
                starts.append(i)
                seen = False
            elif code == _SENT_END:
                seen = True
        out.append((tuple(starts), seen))
    return tuple(out)


def _shape(text):
    """Word shape: X/x/d for upper/lower/digit, other characters as they are; runs cut at 2, at most 6."""
    if text.isascii():
        shape = text.translate(_ASCII_SHAPE)
        for run, two in _LETTER_RUNS:  # plain replacements: much faster than a template's
            shape = run.sub(two, shape)
        if _LONG_RUNS.search(shape):  # a run of something else ("---")
            shape = _LONG_RUNS.sub(r"\1\1", shape)
        return shape[:6]
    out = []
    for ch in text:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if len(out) >= 2 and out[-1] == c and out[-2] == c:
            continue
        out.append(c)
        if len(out) == 6:
            break
    return "".join(out)


def _keys(text):
    """A token's string features, in `_FEATURES` order."""
    low = text.lower()
    return low, text, low[-3:], low[-2:], low[-1:], _shape(text)


def _vocabulary(counts, min_count):
    """`{key: id}` for keys seen at least `min_count` times, ids from 2 (0: unknown, 1: padding), sorted keys."""
    return {key: i for i, key in enumerate(sorted(k for k, n in counts.items() if n >= min_count), start=2)}


class FastTagger:
    """spaCy's tokens, sentences and (learned) Universal POS tags, by table look-up.

    Build it with `FastTagger.build`; the constructor takes the learned
    tables. Output is `augment.Tagger`'s: per text a list of sentences of
    `(text, whitespace, pos)` (spaCy's tokenization and sentencizer exactly;
    tags agree with spaCy's on about 96 % of tokens). Picklable (caches are
    not kept); needs spaCy's tokenizer (the `en-core-web-sm` package) where it
    tags. Safe to share between threads.

    Args:
        tags: the tag names, in the column order of `tables`.
        vocabularies: `{"word", "form", "suffix3", "suffix2", "suffix1",
            "shape"}` → `{key: id}` (ids from 2; 0 unknown, 1 padding).
        pairs: sorted int64 keys `word_id(a) * n_words + word_id(b)` of word
            pairs with a weight row (row = position + 2), `n_words =
            len(vocabularies["word"]) + 2`.
        tables: `{slot: float32 array [rows, len(tags)]}` for each slot of
            `_SLOTS` (rows: the slot's ids).
        bias: float32 `[len(tags)]`.
        cache_size: distinct whitespace-delimited chunks kept (the caches
            restart when full).
        chunks: `{chunk: (token texts, sentencizer codes)}` of chunks that
            need spaCy's tokenizer, known in advance (`build` ships the
            sample's: the frequent ones); others are tokenized where the
            tagger runs, once per process.

    Example:
    >>> tagger = FastTagger.build(train_texts)
    >>> tagger.tag(["Oil rose 5 pct.  Wheat fell."])  # one document, two sentences
    """

    def __init__(self, *, tags, vocabularies, pairs, tables, bias, cache_size=500_000, chunks=None):
        self.tags = tuple(tags)
        self.vocabularies = {name: dict(v) for name, v in vocabularies.items()}
        self.pairs = np.asarray(pairs, np.int64)
        self.tables = {slot: np.asarray(tables[slot], np.float32) for slot in _SLOTS}
        self.bias = np.asarray(bias, np.float32)
        self.cache_size = cache_size
        self.chunks = dict(chunks or {})
        self._setup()

    def _setup(self):
        self._lookups = [self.vocabularies[name] for name in _FEATURES]
        self._n_words = len(self.vocabularies["word"]) + 2
        self._names = np.array(self.tags, dtype=object)
        self._lock = threading.Lock()
        self._reset()

    def _reset(self):
        """Empty caches: chunks → entries, token text → row of `_roles`.

        `_roles[:, row]` sums a token type's weights in its three roles: as
        the tagged token (its own slots, plus the bias), as the token before
        it (word-1 and shape-1 slots) and as the one after it (word+1,
        shape+1). Row 0 is the padding around documents.
        """
        self._chunks = {}
        self._types = {}
        self._roles = np.zeros((3, 1024, len(self.tags)), np.float32)
        self._roles[1, 0] = self.tables["word-1"][_PAD] + self.tables["shape-1"][_PAD]
        self._roles[2, 0] = self.tables["word+1"][_PAD] + self.tables["shape+1"][_PAD]
        self._n_types = 1

    def __getstate__(self):
        keep = ("tags", "vocabularies", "pairs", "tables", "bias", "cache_size", "chunks")
        return {k: self.__dict__[k] for k in keep}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._setup()

    @classmethod
    def build(cls, texts, *, sample_size=1000, tagger=None, C=0.3, cache_size=500_000):
        """Learns spaCy's tags from a sample of `texts`.

        Args:
            texts: the corpus (e.g. the train split); only the sample
                (`choose_sample`) is tagged by spaCy.
            sample_size: documents spaCy tags. The build costs about the
                time spaCy takes for them (≈ 70 Reuters documents/s on one
                core) plus a few seconds of fitting: the default takes
                ≈ 20 s on an idle core.
            tagger: the exact tagger to learn from (default `augment.Tagger()`).
            C: `LinearSVC` regularisation.
            cache_size: see the class.

        Returns:
            A `FastTagger`.

        Example:
        >>> tagger = FastTagger.build(train_texts, sample_size=500)
        >>> agreement(tagger.tag(dev_texts), augment.Tagger().tag(dev_texts))["words"]
        """
        sample = choose_sample(texts, sample_size=sample_size)
        tagged = (tagger or augment.Tagger()).tag(sample)
        fast = cls.fit(tagged, C=C, cache_size=cache_size)
        fast.chunks = _spacy_chunks(sample)
        return fast

    @classmethod
    def fit(cls, tagged, *, C=0.3, cache_size=500_000):
        """Learns from documents the exact tagger tagged (`augment.Tagger().tag(texts)`).

        Args:
            tagged: tagged documents (lists of sentences of `(text, whitespace, pos)`).
            C: `LinearSVC` regularisation.
            cache_size: see the class.

        Returns:
            A `FastTagger`.
        """
        docs = [[t[0] for s in doc for t in s] for doc in tagged]
        labels = [t[2] for doc in tagged for s in doc for t in s]
        if not labels:
            raise ValueError("no tokens to learn from")
        counts = [collections.Counter() for _ in _FEATURES]
        for doc in docs:
            for text in doc:
                for c, key in zip(counts, _keys(text)):
                    c[key] += 1
        vocabularies = {name: _vocabulary(c, 2) for name, c in zip(_FEATURES, counts)}
        lookups = [vocabularies[name] for name in _FEATURES]
        n_words = len(vocabularies["word"]) + 2
        features = _training_features(docs, lookups)
        words = features[:, 0]
        bigrams = collections.Counter((words[:-1] * n_words + words[1:]).tolist())
        pairs = np.array(sorted(k for k, n in bigrams.items() if n >= 2), np.int64)
        ids = _slot_ids(features, pairs, n_words)
        sizes = [(len(pairs) if slot.startswith("pair") else len(vocabularies[_SLOT_VOCABULARY[slot]])) + 2
                 for slot in _SLOTS]
        tags = sorted(set(labels))
        y = np.searchsorted(np.array(tags), np.array(labels))
        weights, bias = _fit_linear(ids, sizes, y, len(tags), C)
        offsets = np.cumsum([0] + sizes)
        tables = {slot: weights[offsets[i]:offsets[i + 1]] for i, slot in enumerate(_SLOTS)}
        return cls(tags=tags, vocabularies=vocabularies, pairs=pairs, tables=tables, bias=bias, cache_size=cache_size)

    def _add_chunks(self, chunks):
        """Tokenizes chunks into cache entries, adding new token types to `_roles`.

        An entry: token texts, their whitespace if a space follows the chunk,
        flat `(type row, word id)` per token, sentencizer transitions (see
        `_transitions`), whether the chunk matters to the sentencizer in the
        "nothing seen" state, and its number of tokens.
        """
        split = _split_chunks(chunks, self.chunks)
        types, new = self._types, {}
        word, form, suffix3, suffix2, suffix1, shape = self._lookups
        for texts, _ in split:
            for text in texts:
                if text not in types and text not in new:
                    low = text.lower()
                    new[text] = (word.get(low, _UNKNOWN), form.get(text, _UNKNOWN), suffix3.get(low[-3:], _UNKNOWN),
                                 suffix2.get(low[-2:], _UNKNOWN), suffix1.get(low[-1:], _UNKNOWN),
                                 shape.get(_shape(text), _UNKNOWN))
        if new:
            first = self._n_types
            need = first + len(new)
            if need > self._roles.shape[1]:  # a new array: a snapshot taken before stays valid
                grown = np.zeros((3, max(need, 2 * self._roles.shape[1]), len(self.tags)), np.float32)
                grown[:, :first] = self._roles[:, :first]
                self._roles = grown
            ids = np.array(list(new.values()), np.int64).reshape(-1, len(_FEATURES))
            t = self.tables
            words, shapes = ids[:, 0], ids[:, 5]
            self._roles[0, first:need] = self.bias + sum(t[slot][ids[:, i]] for i, slot in enumerate(_FEATURES))
            self._roles[1, first:need] = t["word-1"][words] + t["shape-1"][shapes]
            self._roles[2, first:need] = t["word+1"][words] + t["shape+1"][shapes]
            for row, (text, ids) in enumerate(new.items(), start=first):
                types[text] = (row, ids[0])
            self._n_types = need
        cache = self._chunks
        for chunk, (texts, codes) in zip(chunks, split):
            if codes is _ONE_CODE:
                cache[chunk] = (texts, _SPACED, types[chunk], _ONE_WORD, False, 1)
                continue
            transitions = _transitions(codes)
            feats = ()
            for text in texts:
                feats += types[text]
            cache[chunk] = (texts, ("",) * (len(texts) - 1) + (" ",), feats, transitions,
                            transitions[0] != ((), False), len(texts))

    def _layout(self, text, cache):
        """One document: token texts, their whitespace, sentence starts, flat features, whether spaCy sees any
        token at all (a text of whitespace only is one empty sentence, an empty text none)."""
        if text.isprintable() and "  " not in text and text[:1] != " ":  # only single spaces between chunks
            chunks = text.split(" ")
            last = " " if chunks[-1] == "" else ""
            if last:
                chunks.pop()
            entries = [cache[c] for c in chunks]
            toks = list(_chain(map(_FIRST, entries)))
            if not toks:
                return [], [], [0], [], False
            spaces = list(_chain(map(_SECOND, entries)))
            spaces[-1] = last
            feats = list(_chain(map(_THIRD, entries)))
            starts, seen, n = [0], False, 0
            for entry in entries:
                if seen or entry[4]:
                    local, seen = entry[3][seen]
                    for j in local:
                        starts.append(n + j)
                n += entry[5]
            return toks, spaces, starts, feats, True
        parts = _WS_RUNS.split(text)
        toks, spaces, feats, starts = [], [], [], [0]
        seen = space_token = False
        for i in range(0, len(parts), 2):
            chunk = parts[i]
            if chunk:
                texts, chunk_spaces, chunk_feats, transitions, _, _ = cache[chunk]
                local, seen = transitions[seen]
                starts.extend(len(toks) + j for j in local)
                toks.extend(texts)
                spaces.extend(chunk_spaces)
                feats.extend(chunk_feats)
                run = parts[i + 1] if i + 1 < len(parts) else ""
                spaces[-1] = " " if run[:1] == " " else ""
                extra = run[1:] if run[:1] == " " else run  # spaCy: a single space is the token's, more are a token
            else:  # leading whitespace (or an empty text)
                extra = parts[i + 1] if i + 1 < len(parts) else ""
            if extra:  # spaCy makes a whitespace token: dropped from the output, but it can start a sentence
                space_token = True
                if seen:
                    starts.append(len(toks))
                    seen = False
        return toks, spaces, starts, feats, bool(toks) or space_token

    def _predict(self, features, roles):
        """Tag ids of the rows of `features` (`[n, 2]`: type row, word id; type row 0 is padding)."""
        rows, words = features[:, 0], features[:, 1]
        c = np.flatnonzero(rows)
        t = self.tables
        scores = roles[0][rows[c]]
        scores += roles[1][rows[c - 1]]
        scores += roles[2][rows[c + 1]]
        scores += t["word-2"][words[c - 2]]
        scores += t["word+2"][words[c + 2]]
        bigram = _pair_ids(words, self.pairs, self._n_words)
        scores += t["pair-1"][bigram[c - 1]]
        scores += t["pair+1"][bigram[c]]
        return scores.argmax(axis=1)

    def tag(self, texts):
        """Tagged documents: per text a list of sentences of `(text, whitespace, pos)`, as `augment.Tagger.tag`.

        Args:
            texts: documents (strings); a batch of a few dozen or more
                amortises the per-call work.

        Returns:
            A list (one per text) of lists of sentences, each a list of
            `(text, whitespace, pos)` tuples.
        """
        texts = list(texts)
        with self._lock:
            cache = self._chunks
            chunks = set()
            for text in texts:
                chunks.update(text.split())
            missing = chunks.difference(cache)
            if missing:
                if len(cache) + len(missing) > self.cache_size:
                    self._reset()
                    missing = chunks
                self._add_chunks(sorted(missing))
                cache = self._chunks
            layouts = [self._layout(text, cache) for text in texts]
            roles = self._roles
        flat = list(_PADDING)
        for layout in layouts:
            flat += layout[3]
            flat += _PADDING
        features = np.array(flat, np.int64).reshape(-1, 2)
        names = self._names[self._predict(features, roles)].tolist()
        out, at = [], 0
        for toks, spaces, starts, _, any_token in layouts:
            n = len(toks)
            tokens = list(zip(toks, spaces, names[at:at + n]))
            at += n
            out.append([tokens[a:b] for a, b in zip(starts, starts[1:] + [n])] if any_token else [])
        return out


def _training_features(docs, lookups):
    """Feature ids `[tokens + padding, len(_FEATURES)]` of token-text lists, two padding rows around each."""
    flat = []
    pad = (_PAD,) * len(_FEATURES)
    cache = {}
    for doc in docs:
        flat += pad * 2
        for text in doc:
            f = cache.get(text)
            if f is None:
                f = cache[text] = tuple(v.get(k, _UNKNOWN) for v, k in zip(lookups, _keys(text)))
            flat += f
    flat += pad * 2
    return np.array(flat, np.int64).reshape(-1, len(_FEATURES))


def _pair_ids(words, pairs, n_words):
    """Row ids of the word pairs `(words[i], words[i + 1])` (0 for pairs without a row)."""
    if not pairs.size:
        return np.zeros(len(words) - 1, np.int64)
    keys = words[:-1] * n_words + words[1:]
    at = np.minimum(np.searchsorted(pairs, keys), pairs.size - 1)
    return np.where(pairs[at] == keys, at + 2, _UNKNOWN)


def _slot_ids(features, pairs, n_words):
    """Row ids of every slot (`_SLOTS` order) for the non-padding rows of `features` (`_training_features`)."""
    words, shapes = features[:, 0], features[:, 5]
    c = np.flatnonzero(words != _PAD)
    bigram = _pair_ids(words, pairs, n_words)
    return [features[c, 0], features[c, 1], features[c, 2], features[c, 3], features[c, 4], shapes[c],
            words[c - 1], words[c + 1], words[c - 2], words[c + 2], shapes[c - 1], shapes[c + 1],
            bigram[c - 1], bigram[c]]


def _fit_linear(ids, sizes, y, n_tags, C):
    """`LinearSVC` on one-hot slot features: weights `[sum(sizes), n_tags]` and bias `[n_tags]`."""
    import scipy.sparse as sp
    from sklearn.svm import LinearSVC

    offsets = np.cumsum([0] + sizes[:-1])
    n = len(y)
    columns = np.stack([rows + off for rows, off in zip(ids, offsets)], axis=1).ravel()
    x = sp.csr_matrix((np.ones(columns.size, np.float32), columns, np.arange(0, columns.size + 1, len(ids))),
                      shape=(n, sum(sizes)))
    weights, bias = np.zeros((sum(sizes), n_tags), np.float32), np.zeros(n_tags, np.float32)
    present = np.unique(y)
    if len(present) == 1:
        bias[present[0]] = 1.0
        return weights, bias
    model = LinearSVC(C=C, dual=True, random_state=0).fit(x, y)  # dual: fast for sparse one-hot rows
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # binary: one decision function, positive for the second class
        coef, intercept = np.vstack([-coef, coef]), np.r_[-intercept, intercept]
    weights[:, present] = coef.T
    bias[present] = intercept
    return weights, bias


def agreement(tagged, reference):
    """Share of tokens whose tag equals the reference's (documents whose tokens differ count as all wrong).

    Args:
        tagged: documents from the tagger to assess (sentences of `(text, whitespace, pos)`).
        reference: the same documents from the exact tagger.

    Returns:
        `{"all": share of all tokens, "words": share of word tokens
        (`augment.is_word`, the ones the swap uses), "tokens": n,
        "word_tokens": n, "same_tokens": share of documents with
        identical tokens and sentences}`.
    """
    same = agree = words = agree_words = total = 0
    for doc, ref in zip(tagged, reference, strict=True):
        mine, theirs = [t for s in doc for t in s], [t for s in ref for t in s]
        ok = [t[:2] for t in mine] == [t[:2] for t in theirs] and [len(s) for s in doc] == [len(s) for s in ref]
        same += ok
        for i, (text, _, pos) in enumerate(theirs):
            hit = ok and mine[i][2] == pos
            total += 1
            agree += hit
            if augment.is_word(text):
                words += 1
                agree_words += hit
    return {"all": agree / max(total, 1), "words": agree_words / max(words, 1), "tokens": total,
            "word_tokens": words, "same_tokens": same / max(len(reference), 1)}
