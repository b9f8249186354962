"""Names shared by the library and the commands, importable without Keras (so `--help` stays instant).

`kdkeras.models.STUDENTS` registers one `StudentSpec` per name here, in this
order; a test keeps the two in step.
"""

STUDENTS = ("lstm", "kimcnn", "lr", "boe")
"""Student names, in the order runs train and report them."""

STRATEGIES = ("none", "mirrored", "multiworker", "tpu")
"""`tf.distribute` strategy names (`kdkeras.training.distribution_strategy`)."""
