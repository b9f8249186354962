"""Augmentation throughput: `python -m pipelines.benchmark_augment --dataset reuters --docs 2000`.

Measures, on the first N train documents: POS tagging and augmentation
documents/s in one process (one core), and the Beam graph up to the
teacher (read → tag → augment → drop duplicates) with the DirectRunner in
multi-processing mode with 1 and 2 (or --workers) worker processes.
Writes a JSON results file (default docs/results/augment_<dataset>.json).
"""

import argparse
import json
import os
import sys
import tempfile
import time

from pipelines import cli


def _beam_rate(pattern, num_classes, workers, multiplier, config):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from kdkeras import transfer_set as ts

    options = PipelineOptions(["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                               f"--direct_num_workers={workers}"])
    started = time.time()
    pipeline = beam.Pipeline(options=options)
    docs = pipeline | ts.ReadExamples(pattern, num_classes)
    tagged = docs | beam.BatchElements(min_batch_size=1, max_batch_size=64) | beam.ParDo(ts._Tag())
    counts = tagged | beam.CombineGlobally(ts._CountWords())
    _ = (tagged | beam.ParDo(ts._Augment(multiplier - 1, config), beam.pvalue.AsSingleton(counts))
         | ts.DropDuplicates())
    result = pipeline.run()
    result.wait_until_finish()
    seconds = time.time() - started
    counters = ts.counters(result)
    return {"workers": workers, "seconds": round(seconds, 2),
            "docs_per_s": round(counters["documents_read"] / seconds, 2), "counters": counters}


def run(dataset, data_dir, n_docs, workers, multiplier, output):
    from kdkeras import augment
    from kdkeras.data import examples, hedwig, registry

    spec = registry.get_dataset(dataset)
    splits, names = registry.load_dataset(spec, data_dir)
    train = splits["train"]
    texts = train.texts[:n_docs]
    tokens = sum(len(t.split()) for t in texts)
    tagger = augment.Tagger()
    tagger.tag(texts[:20])  # warm-up
    started = time.time()
    docs = tagger.tag(texts)
    tag_s = time.time() - started
    spacy_tokens = sum(len(t) for d in docs for t in d)
    sampler = augment.PosSampler.from_documents(docs)
    config = augment.AugmentConfig()
    started = time.time()
    copies = sum(len(augment.augment_document(str(i), d, multiplier - 1, sampler, config)) for i, d in enumerate(docs))
    aug_s = time.time() - started
    result = {
        "dataset": dataset, "documents": len(texts), "whitespace_tokens_per_doc": round(tokens / len(texts), 1),
        "multiplier": multiplier, "cpu_count": os.cpu_count(),
        "one_process": {
            "tag_docs_per_s": round(len(texts) / tag_s, 2), "tag_tokens_per_s": round(tokens / tag_s),
            "tag_spacy_tokens_per_s": round(spacy_tokens / tag_s),
            "augment_docs_per_s": round(len(texts) / aug_s, 2), "copies": copies,
            "tag_and_augment_docs_per_s": round(len(texts) / (tag_s + aug_s), 2),
        },
        "beam": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        examples.write_split(tmp, hedwig.Split(texts, train.labels[:n_docs], train.source))
        pattern = os.path.join(tmp, examples.SHARD_PATTERN)
        for w in sorted({1, workers}):
            result["beam"].append(_beam_rate(pattern, len(names), w, multiplier, config))
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
    p.add_argument("--output")
    cli.add_verbose(p)
    args = p.parse_args(argv)
    cli.quiet_console(args)
    output = args.output or os.path.join("docs", "results", f"augment_{args.dataset}.json")
    result = run(args.dataset, args.data_dir, args.docs, args.workers, args.multiplier, output)
    print(json.dumps(result, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
