"""The paper's tables: Table 1 (best accuracy within a budget) and the Pareto frontier of
accuracy against cost, as the authors computed them (`notebooks/figures.ipynb`), and the probe
learner's points beside the LoRA learner's."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from labelbudget.analysis.points import EPS, TABLE_BUDGETS


def best_within(pts: pd.DataFrame, budgets: Iterable[float] = TABLE_BUDGETS):
    """Per variant and weak cost (NaN: a variant of several sources, at its own prices), the best
    average accuracy's point among all points whose cost <= each budget (None: nothing fits):
    (label, weak cost, {budget: row or None})."""
    budgets = list(budgets)
    for (label, cost), group in pts.groupby(["label", "weak_cost"], dropna=False):
        best = {}
        for b in budgets:
            fits = group[group["cost"] <= b + EPS]
            best[b] = None if fits.empty else fits.loc[fits["accuracy"].idxmax()]
        yield label, cost, best


def table1(pts: pd.DataFrame, budgets: Iterable[float] = TABLE_BUDGETS) -> pd.DataFrame:
    """PROTOCOL Table 1: per variant and weak cost, the best average accuracy over all points whose
    cost <= budget, with the weak fraction of labels that achieved it ("-": nothing fits); a
    variant of several sources at its own prices (weak cost NaN), with its budget's split across
    its sources instead."""
    rows = []
    for label, cost, best in best_within(pts, budgets):
        row = {"method": label, "weak_cost": cost}
        for b, p in best.items():
            if p is None:
                row[f"${b:g}"] = "-"
            elif math.isnan(cost):
                money = np.multiply(p["counts"], p["prices"])
                split = ", ".join(
                    f"{s} {m / money.sum():.2f}" for s, m in zip(p["sources"], money, strict=True)
                )
                row[f"${b:g}"] = f"{p['accuracy']:.2f} ({split})"
            else:
                row[f"${b:g}"] = f"{p['accuracy']:.2f} ({p['weak_fraction']:.2f})"
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["weak_cost", "method"], ascending=[False, True], ignore_index=True)


def pareto_frontier(pts: pd.DataFrame, gain: float = 0.002, window: float = 0.05) -> pd.DataFrame:
    """PROTOCOL: sort points by cost; keep a point if it beats the best accuracy so far by more
    than 0.002 and no point within +-5% of its cost is better. The cheapest point is always kept
    (the authors' `notebooks/figures.ipynb`): the frontier starts where spending starts."""
    pts = pts.sort_values(["cost", "accuracy"], ascending=[True, False], ignore_index=True)
    costs, accs = pts["cost"].to_numpy(), pts["accuracy"].to_numpy()
    keep, best = [], -math.inf
    for i in range(len(pts)):
        near = (costs >= costs[i] * (1 - window)) & (costs <= costs[i] * (1 + window))
        if i == 0 or (accs[i] > best + gain and not (accs[near] > accs[i]).any()):
            keep.append(i)
            best = max(best, accs[i])
    return pts.iloc[keep].reset_index(drop=True)


def spending(pts: pd.DataFrame, budget: float, weak_cost: float | None) -> pd.DataFrame:
    """The points at `weak_cost` that spend `budget` to within one weak label (the paper's
    rounding leaves less than one weak label's price unspent): B - c < cost <= B. `weak_cost`
    None: the points of several sources at their own prices, to within their cheapest price."""
    if weak_cost is None or math.isnan(weak_cost):
        sub = pts[pts["weak_cost"].isna()]
        cheapest = sub["prices"].map(min) if len(sub) else pd.Series(dtype=float)
    else:
        sub = pts[np.isclose(pts["weak_cost"], weak_cost)]
        cheapest = weak_cost
    return sub[(sub["cost"] <= budget + EPS) & (sub["cost"] > budget - cheapest - EPS)]


def probe_vs_finetuning(pts: pd.DataFrame) -> pd.DataFrame:
    """Each fine-tuned (LoRA learner) point beside the probe learner's point of the same method
    at the same allocation: how far the fast probe agrees with full fine-tuning."""
    pts = pts.drop_duplicates(["label", "sources", "counts"])  # an allocation: a count per source
    probes = pts[pts["learner"] == "probe"]
    rows = []
    for _, ft in pts[pts["learner"] == "lora"].iterrows():
        twin = probes[
            (probes["base_method"] == ft["base_method"])
            & (probes["sources"] == ft["sources"])
            & (probes["counts"] == ft["counts"])
        ]
        if twin.empty:
            continue
        p = twin.iloc[0]
        rows.append(
            {
                "method": ft["method"],
                "n_weak": ft["n_weak"],
                "n_hq": ft["n_hq"],
                "counts": ft["counts"],
                "sources": ft["sources"],
                "fine-tuned accuracy": ft["accuracy"],
                "fine-tuned seeds": ft["n_seeds"],
                "probe accuracy": p["accuracy"],
                "probe SE": p["sem"],
                "probe seeds": p["n_seeds"],
                "probe - fine-tuned": p["accuracy"] - ft["accuracy"],
            }
        )
    return pd.DataFrame(rows)


def rank_agreement(df: pd.DataFrame, draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Whether the probe and LoRA fine-tuning rank the same allocations alike: Kendall's tau
    between their seed-mean accuracies (and AUROCs) over the allocations both ran, per method and
    weak labeler, with a 95% bootstrap interval (seeds resampled within each allocation, for both
    learners). `df` is `points.frame`'s (one row per run)."""
    import json

    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    weak = df["config"].map(lambda c: json.dumps(json.loads(c).get("weak"), sort_keys=True))
    df = df.assign(weak_labeler=weak)
    rows = []
    for (method, labeler), lora in df[df["learner"] == "lora"].groupby(["base_method", "weak_labeler"]):
        probe = df[
            (df["learner"] == "probe") & (df["base_method"] == method) & (df["weak_labeler"] == labeler)
        ]
        key = ["sources", "counts"]  # an allocation: a count per source
        allocs = sorted(set(map(tuple, lora[key].to_numpy())) & set(map(tuple, probe[key].to_numpy())))
        if len(allocs) < 3:
            continue
        for metric in ("accuracy", "auroc"):
            per = [
                [g[(g["sources"] == s) & (g["counts"] == c)][metric].to_numpy(float) for s, c in allocs]
                for g in (probe, lora)
            ]
            tau = kendalltau([v.mean() for v in per[0]], [v.mean() for v in per[1]]).statistic
            boot = []
            for _ in range(draws):
                means = [[rng.choice(v, len(v)).mean() for v in side] for side in per]
                boot.append(kendalltau(*means).statistic)
            boot = np.asarray(boot, float)
            boot = boot[np.isfinite(boot)]
            rows.append(
                {
                    "method": method,
                    "weak labeler": json.loads(labeler).get("weak_n_train"),
                    "metric": metric,
                    "allocations": len(allocs),
                    "lora seeds": int(lora.groupby(key).size().min()),
                    "kendall tau": round(float(tau), 3),
                    "95% interval": f"[{np.quantile(boot, 0.025):.2f}, {np.quantile(boot, 0.975):.2f}]"
                    if len(boot)
                    else "-",
                    "probe": ", ".join(
                        f"{w}+{h}: {v.mean():.3f}" for (w, h), v in zip(allocs, per[0], strict=True)
                    ),
                    "lora": ", ".join(
                        f"{w}+{h}: {v.mean():.3f}" for (w, h), v in zip(allocs, per[1], strict=True)
                    ),
                }
            )
    return pd.DataFrame(rows)
