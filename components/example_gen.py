"""ExampleGen: reads a dataset, validates every row, writes tf.Example splits."""

import hashlib
import os

from components.artifacts import SCHEMA_FILE, split_folder
from components.base import REQUIRED, Component, ComponentSpec, write_json
import numpy as np

from kdkeras.data import examples, hedwig, registry, unlabeled

class ExampleGen(Component):
    """Reads `train`, `dev`, `test` into gzip TFRecord shards.

    Each split is `<split>.tsv[.gz]` in hedwig layout (label bits) or
    `<split>.jsonl[.gz]` with label names listed in `labels.txt` (see
    `kdkeras.data.registry.load_dataset`). Outputs
    `Split-<split>/data_tfrecord-*.gz` and `schema.json` (dataset,
    multi_label, num_classes, label_names, rows per split). A missing dev
    split is carved deterministically from train. With `unlabeled`, also
    `Split-unlabeled`.

    Every row is validated; the first bad row stops the run with a
    `DataError` naming its file and line, unless `skip_bad_rows`: then bad
    rows are left out and counted, and the results (in `metadata.json`) hold
    `skipped_rows`: the total, counts per split and per reason, and the
    first few `file:line: reason` messages.

    Parameters:
        dataset: registry name (reuters, aapd, imdb, yelp, custom).
        data_dir: folder of the files; None uses the vendored copy.
        multi_label: override the registry (None keeps it).
        dev_fraction: share of train carved as dev when there is no dev file.
        max_docs: keep only the first N documents of each split (smoke runs).
        skip_bad_rows: skip and count malformed rows instead of stopping.
        unlabeled: optional file of unlabelled in-domain documents (text
            lines or JSON lines with `text`, gzipped or not; see
            `kdkeras.data.unlabeled`), validated row by row like the splits
            and written as `Split-unlabeled` (all-zero label bits,
            `labeled` = 0). The TransferSet has the teacher label them.
    """

    SPEC = ComponentSpec(
        inputs=(),
        parameters=dict(dataset=REQUIRED, data_dir=None, multi_label=None, dev_fraction=0.1, max_docs=None,
                        skip_bad_rows=False, unlabeled=None),
        description="validated train/dev/test documents as tf.Example",
        added_parameters=("skip_bad_rows", "unlabeled"),
    )

    def _spec(self):
        spec = registry.get_dataset(self.parameters["dataset"])
        if self.parameters["multi_label"] is not None:
            import dataclasses

            spec = dataclasses.replace(spec, multi_label=self.parameters["multi_label"])
        return spec

    def fingerprint(self, inputs):
        # The data files are inputs too: hash them so edited data is re-read.
        digest = hashlib.sha256(super().fingerprint(inputs).encode())
        data_dir = registry.resolve_data_dir(self._spec(), self.parameters["data_dir"])
        # By content, not modification time: a fresh clone, a copy or a re-download of the same files
        # must not retrain everything downstream.
        for name in sorted(os.listdir(data_dir)):
            path = os.path.join(data_dir, name)
            if os.path.isfile(path):
                digest.update(f"{name}:{_file_digest(path)}".encode())
        if self.parameters["unlabeled"]:
            path = self.parameters["unlabeled"]
            digest.update(f"unlabeled:{_file_digest(path) if os.path.isfile(path) else '-'}".encode())
        return digest.hexdigest()

    def execute(self, inputs, output_dir, work_dir):
        spec = self._spec()
        on_bad_row = "skip" if self.parameters["skip_bad_rows"] else "raise"
        splits, names = registry.load_dataset(
            spec, self.parameters["data_dir"], self.parameters["dev_fraction"], on_bad_row
        )
        if self.parameters["unlabeled"]:
            path = self.parameters["unlabeled"]
            texts, bad = unlabeled.read_unlabeled(path, on_bad_row, limit=self.parameters["max_docs"])
            splits["unlabeled"] = hedwig.Split(texts, np.zeros((len(texts), len(names)), np.int8), path, bad,
                                               labeled=np.zeros(len(texts), bool))
        skipped = registry.bad_row_summary(splits)
        if skipped["total"]:
            counts = ", ".join(f"{k}: {v}" for k, v in skipped["splits"].items() if v)
            self.log(f"skipped {skipped['total']} bad rows ({counts})")
        limit = self.parameters["max_docs"]
        rows = {}
        for split_name, split in splits.items():
            if limit:
                split = split.subset(np.arange(min(limit, len(split))))
            examples.write_split(os.path.join(output_dir, split_folder(split_name)), split)
            rows[split_name] = len(split)
        schema = {
            "dataset": spec.name,
            "multi_label": spec.multi_label,
            "metric": spec.metric,
            "num_classes": len(names),
            "label_names": names,
            "rows": rows,
            "sources": {k: v.source for k, v in splits.items()},
        }
        write_json(os.path.join(output_dir, SCHEMA_FILE), schema)
        return {"rows": rows, "num_classes": len(names), "skipped_rows": skipped}


def _file_digest(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
