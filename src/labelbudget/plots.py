"""The paper's figures from averaged runs (matplotlib, PNG). Pure functions: data in, file out.

- `weak_fraction_plot`: accuracy vs the fraction of the budget spent on weak labels, a line per
  budget, the weak labels' own accuracy dashed (the paper's Figure 1).
- `cost_plot`: accuracy vs cost per method, log-scale cost, with the Pareto frontier (Figure 5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis import pareto_frontier


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def weak_fraction_plot(
    avg: pd.DataFrame, path: Path, method: str = "seq_sft", weak_cost: float = 0.1, title: str = ""
) -> Path | None:
    sub = avg[(avg["method"] == method) & np.isclose(avg["weak_cost"], weak_cost)]
    if sub.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    cmap = plt.get_cmap("viridis")
    budgets = sorted(sub["budget"].unique())
    for i, (budget, g) in enumerate(sub.groupby("budget")):
        g = g.assign(spent_weak=1 - g["hq_fraction"]).sort_values("spent_weak")
        color = cmap(i / max(len(budgets) - 1, 1))
        ax.plot(g["spent_weak"], g["accuracy"], "o-", color=color, label=rf"\${budget:g}")
        if g["sem"].notna().any():
            ax.fill_between(
                g["spent_weak"], g["accuracy"] - g["sem"], g["accuracy"] + g["sem"], color=color, alpha=0.15
            )
    ax.axhline(sub["weak_accuracy"].mean(), color="gray", ls="--", label="weak labels")
    ax.set_xlabel("fraction of budget spent on weak labels")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or rf"{method}, weak labels at \${weak_cost:g}")
    ax.legend(title="budget", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cost_plot(avg: pd.DataFrame, path: Path, weak_cost: float = 0.1, title: str = "") -> Path | None:
    sub = avg[np.isclose(avg["weak_cost"], weak_cost) & (avg["cost"] > 0)]
    if sub.empty:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = "osD^vP*X"
    for i, (method, g) in enumerate(sub.groupby("method")):
        points = ax.scatter(
            g["cost"],
            g["accuracy"],
            c=g["weak_fraction"],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            marker=markers[i % len(markers)],
            edgecolors="k",
            linewidths=0.4,
            label=method,
        )
    frontier = pareto_frontier(sub)
    ax.plot(frontier["cost"], frontier["accuracy"], color="gray", lw=2, alpha=0.6, label="Pareto frontier")
    ax.set_xscale("log")
    ticks = sorted(sub["budget"].unique())
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel(r"cost (\$, one HQ label = \$1)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or rf"accuracy vs cost, weak labels at \${weak_cost:g}")
    fig.colorbar(points, ax=ax, label="fraction of labels that are weak")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
