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


# The fast tagger (kdkeras.pos): spaCy's tokens and sentences, its tags learned from a sample.

ADJECTIVES = ["strong", "weak", "higher", "new", "foreign", "early", "annual"]
PLACES = ["Brazil", "Japan", "Chicago", "London", "Canada"]
COMPANIES = ["Texaco", "Chrysler", "Citicorp", "Alcan"]
ADVERBS = ["sharply", "slightly", "again", "today"]


def news(n, seed=0):
    """Small news-like documents of a few sentences (made here, tagged by spaCy in the tests)."""
    rng = random.Random(seed)
    templates = [
        "The {adj} {noun} {verb} {adv} in {place}.",
        "{company} said {noun} prices {verb} {num} pct in {month}.",
        "{place} {verb} its {noun} exports to {num} mln tonnes, officials said.",
        "Analysts expect {adj} demand for {noun} and {noun2} next year.",
        "Did {company} buy the {noun} unit? It {verb} {num} dlrs a share.",
        "{company}'s {adj} {noun} output {verb} {adv}.",
    ]
    docs = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            sentences.append(rng.choice(templates).format(
                adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS), noun2=rng.choice(NOUNS), verb=rng.choice(VERBS),
                adv=rng.choice(ADVERBS), place=rng.choice(PLACES), company=rng.choice(COMPANIES),
                num=rng.choice(["5", "1.5", "12", "300", "4.7"]), month=rng.choice(["January", "March", "May"])))
        if rng.random() < 0.3:
            sentences[0] = sentences[0].upper()  # a headline
        docs.append(" ".join(sentences))
    return docs


# Whitespace and punctuation that spaCy's tokenizer and sentencizer treat specially.
TRICKY = ["", " ", "  \n", "Oil rose.", "Oil rose. ", "Oil rose.\n", " Oil rose. Wheat fell",
          "Oil  rose.  Wheat fell.", "\nOil rose!\n\nWheat fell?? Yes.", "a \n b",
          "U.S. rates rose 5.5 pct... then fell!", "It cannot fall (yet).", 'He said: "it\'s fine." Then left.',
          "x\u00a0y. z", "e-mail a@b.com. ok", "... . .", "Naïve café. ÉTÉ", "WORLD---WIDE!!! Yes"]


@pytest.fixture(scope="module")
def taggers():
    from kdkeras import pos

    texts = news(300)
    exact = augment.Tagger()
    fast = pos.FastTagger.build(texts, sample_size=200, tagger=exact)
    return texts, exact, fast


def test_fast_tagger_gives_spacys_tokens_and_sentences_and_mostly_its_tags(taggers):
    from kdkeras import pos

    texts, exact, fast = taggers
    sample = set(pos.choose_sample(texts, sample_size=200))
    held_out = [t for t in texts if t not in sample]
    assert len(sample) == 200 and len(held_out) == 100
    docs = fast.tag(held_out + TRICKY)
    reference = exact.tag(held_out + TRICKY)
    for doc, ref in zip(docs, reference):  # the same format and tokenization, sentence for sentence
        assert [[t[:2] for t in s] for s in doc] == [[t[:2] for t in s] for s in ref]
        assert all(isinstance(t, tuple) and len(t) == 3 and isinstance(t[2], str) for s in doc for t in s)
    agreement = pos.agreement(docs[:len(held_out)], reference[:len(held_out)])
    assert agreement["same_tokens"] == 1.0
    assert agreement["all"] >= 0.95 and agreement["words"] >= 0.95, agreement
    assert augment.detokenize(fast.tag(["Oil  rose. Wheat fell.\n"])[0]) == "Oil rose. Wheat fell."


def test_fast_tags_do_not_depend_on_batching_caching_or_pickling(taggers):
    import pickle

    from kdkeras import pos

    texts, _, fast = taggers
    some = texts[:40] + TRICKY
    batch = fast.tag(some)
    assert [fast.tag([t])[0] for t in some] == batch
    blob = pickle.dumps(fast)
    assert len(blob) < 5_000_000
    restored = pickle.loads(blob)
    assert not restored._chunks  # caches are not shipped
    assert restored.tag(some) == batch
    tiny_cache = pos.FastTagger(tags=fast.tags, vocabularies=fast.vocabularies, pairs=fast.pairs,
                                tables=fast.tables, bias=fast.bias, cache_size=5)
    assert [d for i in range(0, len(some), 3) for d in tiny_cache.tag(some[i:i + 3])] == batch
    assert len(tiny_cache._chunks) <= 5 + 3 * max(len(t.split()) for t in some)
    # The build sample does not depend on the corpus order.
    assert pos.choose_sample(texts[::-1], sample_size=50) == pos.choose_sample(texts, sample_size=50)


def test_fast_tags_are_the_learned_linear_model_on_all_its_features(taggers):
    from kdkeras import pos

    texts, _, fast = taggers
    docs = fast.tag(texts[:30])
    features = pos._training_features([[t[0] for s in d for t in s] for d in docs], fast._lookups)
    ids = pos._slot_ids(features, fast.pairs, fast._n_words)  # the features it was trained on, one row per slot
    scores = fast.bias + sum(fast.tables[slot][rows] for slot, rows in zip(pos._SLOTS, ids))
    assert [fast.tags[i] for i in scores.argmax(axis=1)] == [t[2] for d in docs for s in d for t in s]


def test_word_rates_and_same_pos_swaps_with_the_fast_tagger(taggers):
    texts, _, fast = taggers
    docs = fast.tag(texts)
    sampler = augment.PosSampler.from_documents(docs)
    doc = [s for d in docs[:8] for s in d]  # one long document
    config = augment.AugmentConfig(p_mask=0.1, p_pos=0.1, p_ngram=0.0, p_shuffle=0.0)
    masked = swapped = words = 0
    expected_swaps = 0.0
    for seed in range(150):
        copy, _ = augment.augment_copy(doc, sampler, config, random.Random(seed))
        for old, new in zip((t for s in doc for t in s), (t for s in copy for t in s)):
            if not augment.is_word(old[0]):
                assert new == old
                continue
            words += 1
            counts = sampler.counts[old[2]]
            expected_swaps += 1 - counts.get(old[0].lower(), 0) / sum(counts.values())  # same word drawn: no change
            masked += new[0] == augment.MASK_TOKEN
            if new[0] not in (old[0], augment.MASK_TOKEN):
                swapped += 1
                assert new[2] == old[2] and new[0].lower() in counts
    assert words > 20000
    assert abs(masked / words - 0.1) < 0.01
    assert abs(swapped / words - 0.1 * expected_swaps / words) < 0.01


def test_beam_tagging_builds_the_fast_tagger_once_from_the_hash_sample(taggers):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from kdkeras import pos
    from kdkeras import transfer_set as ts

    texts, exact, fast = taggers
    docs = [{"source_id": ts.document_id(t), "text": t} for t in texts[:60]]
    direct = pos.FastTagger.build(texts[:60], sample_size=25, tagger=exact)
    expected = [(d["text"], direct.tag([d["text"]])[0]) for d in docs]
    with beam.Pipeline() as p:
        tagged = (p | beam.Create(docs[::-1])  # order does not matter
                  | ts.TagDocuments(pos_tagger="fast", sample_size=25, batch_size=7)
                  | beam.Map(lambda d: (d["text"], d["tagged"])))
        assert_that(tagged, equal_to(expected))
    with pytest.raises(ValueError):
        ts.TagDocuments(pos_tagger="nltk")
