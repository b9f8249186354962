"""Knowledge distillation: the `Distiller` model and its KL loss."""

from kdkeras.distillation.distiller import Distiller
from kdkeras.distillation.losses import DistillationKL, task_loss

__all__ = ["Distiller", "DistillationKL", "task_loss"]
