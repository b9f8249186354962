"""Teacher and student models."""

from kdkeras.models.backbones import load_backbone
from kdkeras.models.docbert import DocBERT
from kdkeras.models.reg_lstm import build_reg_lstm, reg_lstm_optimizer

# Student name -> (builder, optimizer factory). Builders take
# (vocabulary_size, num_classes, **hyperparameters) and return a Keras model
# mapping int token ids to logits.
STUDENTS = {
    "lstm": (build_reg_lstm, reg_lstm_optimizer),
}


def build_student(name, vocabulary_size, num_classes, **hyperparameters):
    """Builds the student `name` ("lstm", ...) with the shared construction API.

    Example:
    >>> model = build_student("lstm", vocabulary_size=20000, num_classes=90, hidden_dim=128)
    """
    if name not in STUDENTS:
        raise ValueError(f"unknown student {name!r}; known: {', '.join(STUDENTS)}")
    return STUDENTS[name][0](vocabulary_size, num_classes, **hyperparameters)


__all__ = ["DocBERT", "STUDENTS", "build_reg_lstm", "build_student", "load_backbone", "reg_lstm_optimizer"]
