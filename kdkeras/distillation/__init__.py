"""Knowledge distillation: the `Distiller` model and its losses."""

from kdkeras.distillation.distiller import Distiller
from kdkeras.distillation.losses import DistillationKL, LogitMSE, distillation_loss, task_loss

__all__ = ["Distiller", "DistillationKL", "LogitMSE", "distillation_loss", "task_loss"]
