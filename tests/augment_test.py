import collections
import random

import pytest

from kdkeras import augment

NOUNS = ["oil", "wheat", "bank", "dollar", "crop"]
VERBS = ["rose", "fell", "said", "cut"]


def tagged_doc(n_sentences=6, words=12, seed=0):
    """A synthetic tagged document: sentences of NOUN/VERB words ending in a period."""
    rng = random.Random(seed)
    doc = []
    for _ in range(n_sentences):
        sentence = []
        for _ in range(words):
            if rng.random() < 0.5:
                sentence.append((rng.choice(NOUNS), " ", "NOUN"))
            else:
                sentence.append((rng.choice(VERBS), " ", "VERB"))
        sentence.append((".", " ", "PUNCT"))
        doc.append(sentence)
    return doc


def sampler():
    return augment.PosSampler({"NOUN": {w: 10 for w in NOUNS}, "VERB": {w: 10 for w in VERBS}})


def aligned_copy(doc, config, seed):
    """One copy with n-grams and shuffling off, so tokens stay aligned with the original."""
    return augment.augment_copy(doc, sampler(), config, random.Random(seed))[0]


def test_word_rates_match_the_configuration():
    config = augment.AugmentConfig(p_mask=0.1, p_pos=0.1, p_ngram=0.0, p_shuffle=0.0)
    doc = tagged_doc()
    masked = swapped = words = 0
    for seed in range(300):
        for old, new in zip((t for s in doc for t in s), (t for s in aligned_copy(doc, config, seed) for t in s)):
            if augment.is_word(old[0]):
                words += 1
                masked += new[0] == augment.MASK_TOKEN
                swapped += new[0] not in (old[0], augment.MASK_TOKEN)
    assert words > 20000
    assert abs(masked / words - 0.1) < 0.01
    # A swap draws the same word again with probability 1/|POS vocabulary| (kept as is, not a change).
    expected_swaps = 0.1 * (1 - 0.5 / len(NOUNS) - 0.5 / len(VERBS))
    assert abs(swapped / words - expected_swaps) < 0.01


def test_masking_touches_only_words_and_swaps_keep_the_pos():
    config = augment.AugmentConfig(p_mask=0.3, p_pos=0.3, p_ngram=0.0, p_shuffle=0.0)
    doc = tagged_doc()
    for seed in range(50):
        for old, new in zip((t for s in doc for t in s), (t for s in aligned_copy(doc, config, seed) for t in s)):
            if not augment.is_word(old[0]):
                assert new == old
            elif new[0] not in (old[0], augment.MASK_TOKEN):
                assert new[2] == old[2]
                assert new[0] in (NOUNS if old[2] == "NOUN" else VERBS)


def test_ngram_rate_and_window():
    config = augment.AugmentConfig(p_mask=0.0, p_pos=0.0, p_ngram=0.25, max_ngram=5, p_shuffle=0.0)
    doc = tagged_doc(n_sentences=8)
    cut, lengths = 0, collections.Counter()
    for seed in range(2000):
        sentences, rules = augment.augment_copy(doc, sampler(), config, random.Random(seed))
        if "ngram" in rules:
            cut += 1
            lengths[len(sentences)] += 1
            # a window of consecutive sentences of the original
            start = doc.index(sentences[0])
            assert sentences == doc[start:start + len(sentences)]
    assert abs(cut / 2000 - 0.25) < 0.03
    assert set(lengths) == {1, 2, 3, 4, 5}
    # Single-sentence documents get Tang's word n-grams.
    one = tagged_doc(n_sentences=1, words=30)
    for seed in range(200):
        sentences, rules = augment.augment_copy(one, sampler(), config, random.Random(seed))
        if "ngram" in rules:
            assert 1 <= len(sentences[0]) <= 5


def test_sentence_shuffle_keeps_the_multiset_of_sentences():
    config = augment.AugmentConfig(p_mask=0.0, p_pos=0.0, p_ngram=0.0, p_shuffle=1.0)
    doc = tagged_doc(n_sentences=6, seed=3)
    shuffled = 0
    for seed in range(100):
        sentences, rules = augment.augment_copy(doc, sampler(), config, random.Random(seed))
        assert sorted(map(str, sentences)) == sorted(map(str, doc))
        shuffled += "shuffle" in rules
    assert shuffled > 95  # 6! orders: the identity is rare


def test_copies_are_deterministic_distinct_and_seeded_by_document_and_index():
    config = augment.AugmentConfig()
    doc = tagged_doc()
    a = augment.augment_document("doc-7", doc, 5, sampler(), config)
    b = augment.augment_document("doc-7", doc, 5, sampler(), config)
    assert a == b and len(a) == 5
    texts = [c.text for c in a]
    assert len(set(texts)) == 5 and augment.detokenize(doc) not in texts
    assert [c.text for c in augment.augment_document("doc-8", doc, 5, sampler(), config)] != texts
    assert [c.text for c in augment.augment_document("doc-7", doc, 5, sampler(), augment.AugmentConfig(seed=1))] != texts
    # Copy k depends only on (seed, id, k): asking for fewer copies gives a prefix.
    assert augment.augment_document("doc-7", doc, 2, sampler(), config) == a[:2]


def test_rules_switch_off_and_short_documents_run_out_of_copies():
    off = augment.AugmentConfig(p_mask=0, p_pos=0, p_ngram=0, p_shuffle=0, n_iter=3)
    assert augment.augment_document("d", tagged_doc(), 3, sampler(), off) == []
    tiny = [[("oil", "", "NOUN")]]
    copies = augment.augment_document("d", tiny, 4, sampler(), augment.AugmentConfig(p_mask=0.5, p_pos=0.5))
    assert len(copies) <= len(NOUNS)  # only so many distinct one-word documents exist
    with pytest.raises(ValueError):
        augment.AugmentConfig(p_mask=0.7, p_pos=0.5)


def test_swapped_words_take_the_case_of_the_word_they_replace():
    config = augment.AugmentConfig(p_mask=0.0, p_pos=1.0, p_ngram=0.0, p_shuffle=0.0)
    doc = [[("OIL", " ", "NOUN"), ("Wheat", " ", "NOUN"), ("bank", "", "NOUN")]]
    sentences, _ = augment.augment_copy(doc, sampler(), config, random.Random(1))
    upper, title, lower = (t[0] for t in sentences[0])
    assert upper.isupper() and title[0].isupper() and title[1:].islower() and lower.islower()


def test_tagger_gives_sentences_and_universal_pos():
    tagger = augment.Tagger()
    doc, = tagger.tag(["Oil prices rose sharply. Traders said the dollar fell."])
    assert len(doc) == 2
    tags = {text: pos for sentence in doc for text, _, pos in sentence}
    assert tags["prices"] == "NOUN" and tags["rose"] == "VERB" and tags["."] == "PUNCT"
    assert augment.detokenize(doc) == "Oil prices rose sharply. Traders said the dollar fell."
    counts = augment.PosSampler.count([doc])
    assert counts["NOUN"]["oil"] == 1 and "." not in counts.get("PUNCT", {})
