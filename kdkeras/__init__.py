"""kdkeras: distil a fine-tuned BERT document classifier into tiny Keras students.

Public entry points (imported lazily so that light modules such as the
dataset registry do not load TensorFlow):

- `kdkeras.Distiller`, `kdkeras.DistillationKL`: the distillation model and loss.
- `kdkeras.models`: `DocBERT`, `load_backbone`, `build_student` (lstm, kimcnn, lr, boe).
- `kdkeras.training`: `fit_teacher`, `fit_student`.
- `kdkeras.data.registry.load_dataset`, `kdkeras.data.hedwig.Split`: datasets and their splits.
- `kdkeras.predict.Predictor`: raw text → labels with an exported bundle.
"""

__version__ = "0.1.0"

_LAZY = {
    "Distiller": ("kdkeras.distillation", "Distiller"),
    "DistillationKL": ("kdkeras.distillation", "DistillationKL"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'kdkeras' has no attribute {name!r}")


__all__ = ["Distiller", "DistillationKL", "__version__"]
