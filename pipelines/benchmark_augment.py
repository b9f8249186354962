"""Augmentation throughput: `python -m pipelines.benchmark_augment --dataset reuters --docs 2000`.

Measures, on the first N train documents, in one process (one core):
spaCy POS tagging (`augment.Tagger`) and augmentation documents/s; the fast
tagger (`kdkeras.pos.FastTagger`): its build time from --sample-size train
documents, its documents/s on a fresh copy (first pass: new whitespace
chunks still go through spaCy's tokenizer, as on a fresh Beam worker; second
pass: all cached), tag + augment documents/s, and its agreement with spaCy's
tags on the documents outside its build sample (all tokens and word tokens).
Rates are medians of --repeats runs (each fast-tagger run starts from a fresh
copy and a fresh spaCy tokenizer), per second of wall time and per second of
the process's CPU time (on a shared machine both vary with its load, which
is recorded). Then the Beam graph up to the teacher (read → tag →
augment → drop duplicates) with the DirectRunner in multi-processing mode
with 1 and --workers worker processes, for each --beam-taggers.
Writes a JSON results file (default docs/results/augment_<dataset>.json).
"""

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time

from pipelines import cli


class _Timer:
    """Wall and CPU seconds of a `with` block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _beam_rate(pattern, num_classes, workers, multiplier, config, pos_tagger, sample_size):
    import apache_beam as beam

    from components.transfer_set import beam_options
    from kdkeras import transfer_set as ts

    options = beam_options(["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                            f"--direct_num_workers={workers}"])  # workers keep to warnings, as in the pipeline
    started = time.time()
    pipeline = beam.Pipeline(options=options)
    docs = pipeline | ts.ReadExamples(pattern, num_classes)
    tagged = docs | ts.TagDocuments(pos_tagger=pos_tagger, sample_size=sample_size)
    counts = tagged | beam.CombineGlobally(ts._CountWords())
    _ = (tagged | beam.ParDo(ts._Augment(multiplier - 1, config), beam.pvalue.AsSingleton(counts))
         | ts.DropDuplicates())
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.time() - started
    counters = ts.counters(result)
    return {"pos_tagger": pos_tagger, "workers": workers, "seconds": round(seconds, 2),
            "docs_per_s": round(counters["documents_read"] / seconds, 2), "counters": counters}


def _augment_all(docs, sampler, config, multiplier):
    from kdkeras import augment

    return sum(len(augment.augment_document(str(i), d, multiplier - 1, sampler, config)) for i, d in enumerate(docs))


def _tag_in_batches(tagger, texts, batch_size):
    return [doc for i in range(0, len(texts), batch_size) for doc in tagger.tag(texts[i:i + batch_size])]


def _median_rates(n, runs, key):
    """`{key}_docs_per_s` and `{key}_docs_per_cpu_s`: medians over runs of `{name: _Timer}` of the timers `key`
    names (a `+` joins timers whose times add up), with the per-run wall rates."""
    def seconds(run, clock):
        return sum(getattr(run[k], clock) for k in key.split("+"))

    name = key.replace("+", "_and_")
    walls = [round(n / seconds(r, "wall"), 1) for r in runs]
    return {f"{name}_docs_per_s": round(statistics.median(walls), 1),
            f"{name}_docs_per_cpu_s": round(statistics.median(n / seconds(r, "cpu") for r in runs), 1),
            f"{name}_docs_per_s_runs": walls}


def _spacy_tagger(texts, tagger, multiplier, config, repeats):
    """spaCy tagging and augmentation rates; the tagged documents."""
    from kdkeras import augment

    runs = []
    for _ in range(repeats):
        run = {"tag": _Timer(), "augment": _Timer()}
        with run["tag"]:
            docs = tagger.tag(texts)
        sampler = augment.PosSampler.from_documents(docs)
        with run["augment"]:
            copies = _augment_all(docs, sampler, config, multiplier)
        runs.append(run)
    return {
        **_median_rates(len(texts), runs, "tag"), **_token_rates(texts, docs, runs),
        **_median_rates(len(texts), runs, "augment"), "copies": copies,
        **_median_rates(len(texts), runs, "tag+augment"),
    }, docs


def _token_rates(texts, docs, runs):
    """Whitespace tokens and tagged tokens per second of the median tagging pass."""
    wall = statistics.median(r["tag"].wall for r in runs)
    return {"tag_tokens_per_s": round(sum(len(t.split()) for t in texts) / wall),
            "tag_spacy_tokens_per_s": round(sum(len(s) for d in docs for s in d) / wall)}


def _fast_tagger(train_texts, texts, exact_docs, tagger, sample_size, multiplier, config, batch_size, repeats):
    """Build time, speed, tag + augment speed and agreement with spaCy of a `FastTagger`."""
    from apache_beam.coders import PickleCoder

    from kdkeras import augment, pos

    with _Timer() as build:
        built = pos.FastTagger.build(train_texts, sample_size=sample_size, tagger=tagger)
    blob = PickleCoder().encode(built)  # the side input as Beam ships it (caches left out)
    runs = []
    for _ in range(repeats):
        pos._TOKENIZER.clear()  # a new spaCy tokenizer (empty vocabulary) and a fresh copy: as in a new worker
        fast = copy.deepcopy(built)
        fast.tag(["Warm-up: loads spaCy's tokenizer."])
        run = {"tag": _Timer(), "tag_cached": _Timer(), "augment": _Timer()}
        with run["tag"]:
            docs = _tag_in_batches(fast, texts, batch_size)
        with run["tag_cached"]:
            again = _tag_in_batches(fast, texts, batch_size)
        if again != docs:
            raise AssertionError("the fast tagger's second pass differs from its first")
        sampler = augment.PosSampler.from_documents(docs)
        with run["augment"]:
            copies = _augment_all(docs, sampler, config, multiplier)
        runs.append(run)
    sample = set(pos.choose_sample(train_texts, sample_size=sample_size))
    held_out = [i for i, t in enumerate(texts) if t not in sample]
    agreement = pos.agreement([docs[i] for i in held_out], [exact_docs[i] for i in held_out])
    return {
        "sample_size": sample_size, "sample_documents": len(sample),
        "build_s": round(build.wall, 2), "build_cpu_s": round(build.cpu, 2),
        "pickle_mb": round(len(blob) / 1e6, 2), "tag_batch_size": batch_size,
        **_median_rates(len(texts), runs, "tag"),  # first pass of a fresh copy: new chunks go through spaCy
        **_token_rates(texts, docs, runs),
        **_median_rates(len(texts), runs, "tag_cached"),  # second pass: every chunk cached
        **_median_rates(len(texts), runs, "augment"), "copies": copies,
        **_median_rates(len(texts), runs, "tag+augment"),
        **_median_rates(len(texts), runs, "tag_cached+augment"),
        "agreement_with_spacy": {
            "documents": len(held_out), "tokens": agreement["tokens"], "word_tokens": agreement["word_tokens"],
            "all_tokens": round(agreement["all"], 4), "word_tokens_share": round(agreement["words"], 4),
            "same_tokens_and_sentences": round(agreement["same_tokens"], 4),
        },
    }


def run(dataset, data_dir, n_docs, workers, multiplier, output, sample_size=1000, beam_taggers=("fast", "spacy"),
        batch_size=64, repeats=3, command=None):
    from kdkeras import augment
    from kdkeras.data import examples, hedwig, registry

    load_start = os.getloadavg()
    spec = registry.get_dataset(dataset)
    splits, names = registry.load_dataset(spec, data_dir)
    train = splits["train"]
    texts = train.texts[:n_docs]
    tokens = sum(len(t.split()) for t in texts)
    tagger = augment.Tagger()
    tagger.tag(texts[:20])  # warm-up
    config = augment.AugmentConfig()
    spacy_rates, docs = _spacy_tagger(texts, tagger, multiplier, config, repeats)
    result = {
        "title": "Transfer-set augmentation throughput: spaCy POS tagging vs the fast tagger (kdkeras.pos), "
                 "one process, and the Beam graph up to the teacher",
        "command": command, "dataset": dataset, "documents": len(texts),
        "whitespace_tokens_per_doc": round(tokens / len(texts), 1), "multiplier": multiplier,
        "cpu_count": os.cpu_count(), "repeats": repeats,
        "one_process": spacy_rates,
        "fast_tagger": _fast_tagger(train.texts, texts, docs, tagger, sample_size, multiplier, config, batch_size,
                                    repeats),
        "beam": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        examples.write_split(tmp, hedwig.Split(texts, train.labels[:n_docs], train.source))
        pattern = os.path.join(tmp, examples.SHARD_PATTERN)
        for pos_tagger in beam_taggers:
            for w in sorted({1, workers}):
                result["beam"].append(_beam_rate(pattern, len(names), w, multiplier, config, pos_tagger, sample_size))
    result["load_average"] = {"start": [round(x, 2) for x in load_start],
                              "end": [round(x, 2) for x in os.getloadavg()]}
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        json.dump(result, f, indent=2)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m pipelines.benchmark_augment", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="reuters")
    p.add_argument("--data-dir")
    p.add_argument("--docs", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--multiplier", type=int, default=3)
    p.add_argument("--sample-size", type=int, default=1000, help="train documents the fast tagger learns from")
    p.add_argument("--beam-taggers", default="fast,spacy",
                   help="comma-separated POS taggers to run the Beam graph with (fast, spacy; empty: no Beam runs)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per one-process measurement (medians reported)")
    p.add_argument("--output")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    output = args.output or os.path.join("docs", "results", f"augment_{args.dataset}.json")
    taggers = tuple(t for t in args.beam_taggers.split(",") if t)
    command = cli.command_line("pipelines.benchmark_augment", argv)
    result = run(args.dataset, args.data_dir, args.docs, args.workers, args.multiplier, output,
                 sample_size=args.sample_size, beam_taggers=taggers, repeats=args.repeats, command=command)
    print(json.dumps(result, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
