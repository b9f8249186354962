"""Plots of training runs (matplotlib, headless)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_curves(history, path, title=""):
    """Plots training loss and the dev metric per epoch into `path` (PNG).

    Args:
        history: `{"history": {name: [values per epoch]}, ...}` as returned by
            `kdkeras.training.fit_teacher` / `fit_student`, or the inner dict.
        path: output PNG path.
        title: figure title.
    """
    history = history.get("history", history)
    metric = next((k for k in history if k.startswith("val_")), None)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = range(1, len(history.get("loss", [])) + 1)
    ax.plot(epochs, history.get("loss", []), "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if metric:
        ax2 = ax.twinx()
        ax2.plot(range(1, len(history[metric]) + 1), history[metric], "s-", color="tab:orange", label=metric)
        ax2.set_ylabel(metric + " (%)")
        ax2.legend(loc="lower right")
    ax.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
