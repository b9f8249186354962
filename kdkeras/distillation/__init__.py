"""Knowledge distillation: the `Distiller` model and its KL loss."""

from kdkeras.distillation.distiller import Distiller
from kdkeras.distillation.losses import DistillationKL

__all__ = ["Distiller", "DistillationKL"]
