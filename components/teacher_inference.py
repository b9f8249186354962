"""TeacherInference: teacher logits for every document of every split."""

import os
import shutil

from components.artifacts import SCHEMA_FILE, TEACHER_SCORES_FILE, load_schema, load_teacher, read_split, split_folder
from components.base import Component, ComponentSpec, write_json
from kdkeras import buckets, metrics
from kdkeras.data import examples


class TeacherInference(Component):
    """Runs the teacher over the splits (train, dev and test) and stores its logits.

    Documents are tokenised once and batched by length, each batch cut to
    its longest document (`kdkeras.buckets`), unless the teacher reads windows.

    Outputs `Split-<split>/data_tfrecord-*.gz` with `text`, `labels` and
    `teacher_logits` per document (the transfer set for distillation, and
    the teacher's predictions for evaluation), plus the schema.

    Parameters:
        batch_size: inference batch size.
        splits: the splits to label (a teacher sweep needs only dev and test).
        sequence_length: word pieces the teacher reads per document, when
            more than it was trained on (None: its training length; see
            `kdkeras.windows.load`). Give the TransferSet the same length,
            so that original and augmented documents are read alike.
    """

    SPEC = ComponentSpec(
        inputs=("examples", "teacher"),
        parameters=dict(batch_size=64, splits=["train", "dev", "test"], sequence_length=None),
        description="documents with teacher logits",
        added_parameters=("splits", "sequence_length"),
    )

    def execute(self, inputs, output_dir, work_dir):
        schema = load_schema(inputs["examples"])
        teacher, preprocessor = load_teacher(inputs["teacher"], self.parameters["sequence_length"])
        scores = {}
        reads = f", up to {preprocessor.sequence_length} word pieces each" if self.parameters["sequence_length"] else ""
        for split_name in self.parameters["splits"]:
            split, _ = read_split(inputs["examples"], split_name)
            self.log(f"teacher logits for {len(split)} {split_name} documents{reads}")
            logits = buckets.predict_texts(teacher, preprocessor, split.texts, self.parameters["batch_size"],
                                            verbose="auto")
            examples.write_split(os.path.join(output_dir, split_folder(split_name)), split, logits)
            scores[split_name] = metrics.score(split.labels, logits, schema["multi_label"])
        shutil.copy(inputs["examples"].path(SCHEMA_FILE), os.path.join(output_dir, SCHEMA_FILE))
        write_json(os.path.join(output_dir, TEACHER_SCORES_FILE), scores)
        return {"teacher_" + schema["metric"]: scores}
