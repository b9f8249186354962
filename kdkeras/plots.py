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


def sweep(result, path):
    """Plots dev and test score (mean ± std over seeds) against a swept setting into `path` (PNG).

    Args:
        result: `{"key", "values", "runs": [{"dev_mean", "dev_std", "test_mean",
            "test_std"}], "teacher": {"dev", "test"}, "model", "metric"}` as
            written by `pipelines.sweep`.
        path: output PNG path.
    """
    values = result["values"]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    x = values if numeric else list(range(len(values)))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for split, color in (("dev", "tab:blue"), ("test", "tab:orange")):
        means = [r[f"{split}_mean"] for r in result["runs"]]
        stds = [r[f"{split}_std"] for r in result["runs"]]
        ax.errorbar(x, means, yerr=stds, fmt="o-", capsize=3, color=color, label=f"{result['model']} {split}")
        reference = "the run's teacher" if result["model"] == "teacher" else "teacher"
        ax.axhline(result["teacher"][split], ls="--", color=color, alpha=0.6, label=f"{reference} {split}")
    if numeric and min(values) > 0 and max(values) / min(values) >= 16:
        ax.set_xscale("log", base=2)
    if not numeric:
        ax.set_xticks(x, [str(v) for v in values])
    ax.set_xlabel(result["key"])
    ax.set_ylabel(f"{result['metric']} (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def teacher_by_epoch(dev_by_epoch, references, path, title="", metric="score"):
    """Plots the teacher's dev score after each epoch against the dev scores it must beat into `path` (PNG).

    Args:
        dev_by_epoch: the teacher's dev score after epochs 1, 2, ….
        references: `{name: dev score}` of the plain students and baselines,
            drawn as horizontal lines; where the teacher's curve crosses one
            is the training budget at which distilling into it can pay.
        path: output PNG path.
        title: figure title.
        metric: name of the score for the axis label.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    epochs = range(1, len(dev_by_epoch) + 1)
    ax.plot(epochs, dev_by_epoch, "o-", color="tab:red", label="teacher", zorder=3)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, score) in enumerate(sorted(references.items(), key=lambda item: -item[1])):
        ax.axhline(score, ls="--", lw=1, color=colors[i % len(colors)], label=f"{name} ({score:.2f})")
    ax.set_xticks(list(epochs))
    ax.set_xlabel("teacher epoch")
    ax.set_ylabel(f"dev {metric} (%)")
    ax.set_ylim(min([*dev_by_epoch, *references.values()]) - 1, None)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pareto_front(points):
    """Names of the points no other point beats on both axes: `{name: (cost, score)}`, lower cost and higher score win."""
    front, best = [], float("-inf")
    for name, (cost, score) in sorted(points.items(), key=lambda item: (item[1][0], -item[1][1])):
        if score > best:
            front.append(name)
            best = score
    return front


def quality_vs_cost(result, path):
    """Test score against latency per document (log axis) for every model of a benchmark, Pareto front marked.

    Args:
        result: a `pipelines.benchmark` result: `models` with `test` and
            `latency_ms` (best format, batch 1, one thread, tokenisation
            included) and `plain_students` (scored, same architecture and
            cost as their distilled twin).
        path: output PNG path.

    Returns:
        The names on the Pareto front.
    """
    points = {name: (row["latency_ms"], row["test"]) for name, row in result["models"].items()
              if row.get("test") is not None}
    for name, row in result.get("plain_students", {}).items():
        points[name] = (result["models"][row["as"]]["latency_ms"], row["test"])
    front = pareto_front(points)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (cost, score) in points.items():
        kind = "teacher" if name == "teacher" else "distilled" if name.startswith("kd_") else (
            "baseline" if name in ("svm", "sklearn_lr") else "student")
        marker, color = {"teacher": ("*", "tab:red"), "distilled": ("o", "tab:blue"),
                         "baseline": ("s", "tab:gray"), "student": ("^", "tab:green")}[kind]
        ax.scatter(cost, score, marker=marker, color=color, s=80 if name in front else 40,
                   edgecolors="black" if name in front else "none", zorder=3)
    labels = {}  # one label per position: a distilled student with λ = 0 is its plain twin
    for name, point in points.items():
        labels.setdefault(point, []).append(name)
    for (cost, score), names in labels.items():
        ax.annotate(" = ".join(sorted(names, key=len)), (cost, score), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    xs, ys = zip(*(points[name] for name in front))
    ax.step(xs, ys, where="post", color="black", linewidth=1, alpha=0.6, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("latency per document, ms (batch 1, one thread, tokenisation included; log scale)")
    ax.set_ylabel(f"test {result.get('metric', 'score')} (%)")
    ax.set_title("Quality against cost")
    ax.legend(loc="lower right")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return front
