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
    """

    SPEC = ComponentSpec(
        inputs=("examples", "teacher"),
        parameters=dict(batch_size=64, splits=["train", "dev", "test"]),
        description="documents with teacher logits",
        added_parameters=("splits",),
    )

    def execute(self, inputs, output_dir, work_dir):
        schema = load_schema(inputs["examples"])
        teacher, preprocessor = load_teacher(inputs["teacher"])
        scores = {}
        for split_name in self.parameters["splits"]:
            split, _ = read_split(inputs["examples"], split_name)
            self.log(f"teacher logits for {len(split)} {split_name} documents")
            logits = buckets.predict_texts(teacher, preprocessor, split.texts, self.parameters["batch_size"],
                                            verbose="auto")
            examples.write_split(os.path.join(output_dir, split_folder(split_name)), split, logits)
            scores[split_name] = metrics.score(split.labels, logits, schema["multi_label"])
        shutil.copy(inputs["examples"].path(SCHEMA_FILE), os.path.join(output_dir, SCHEMA_FILE))
        write_json(os.path.join(output_dir, TEACHER_SCORES_FILE), scores)
        return {"teacher_" + schema["metric"]: scores}
