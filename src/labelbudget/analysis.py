"""Answers from stored runs: averages, Table 1, the Pareto frontier, regimes, and a plan.

Pure functions of records (PROTOCOL, "Metrics and analysis"): average over seeds, then over
tasks; cost = n_weak * c + n_hq. An all-HQ run does not depend on the weak-label cost, so it
counts for every cost present (a sweep runs it once).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelbudget.budget import allocate
from labelbudget.errors import UserError
from labelbudget.store import Record

TABLE_BUDGETS = (5, 17, 65, 257, 1025, 4097)
"""PROTOCOL: Table 1 uses budgets 4**i + 1 to absorb rounding."""

CONFIG = ["task", "method", "strong_model", "weak_model", "weak_cost", "budget", "hq_fraction"]


def frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per run (all-HQ runs repeated for every weak cost in the data)."""
    rows = [
        {
            "task": r.task,
            "method": r.method,
            "strong_model": r.strong_model,
            "weak_model": r.weak_model,
            "weak_cost": r.weak_cost,
            "budget": r.budget,
            "hq_fraction": r.hq_fraction,
            "seed": r.seed,
            "n_weak": r.n_weak,
            "n_hq": r.n_hq,
            "cost": r.n_weak * r.weak_cost + r.n_hq,
            "accuracy": r.accuracy,
            "auroc": r.auroc,
            "weak_accuracy": r.weak_accuracy,
            "config_hash": r.config_hash,
        }
        for r in records
    ]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    costs = sorted(df["weak_cost"].unique())
    hq_only = df[df["n_weak"] == 0]
    copies = [hq_only.assign(weak_cost=c) for c in costs]
    df = pd.concat([df[df["n_weak"] > 0], *copies], ignore_index=True)
    df = df.drop_duplicates(subset=[*CONFIG, "seed"])
    df["weak_fraction"] = df["n_weak"] / (df["n_weak"] + df["n_hq"]).clip(lower=1)
    return df


def average(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per task, then over tasks. `seed_std`: the seeds' standard deviation
    (averaged over tasks); `task_std`: spread of the task means; `sem`: standard error of the
    mean accuracy from the seeds (NaN with one seed: the spread is then unknown)."""
    keys = [c for c in CONFIG if c != "task"]
    means = {c: (c, "mean") for c in ("cost", "weak_fraction", "n_weak", "n_hq", "auroc", "weak_accuracy")}
    per_task = df.groupby(["task", *keys], as_index=False).agg(
        accuracy=("accuracy", "mean"), seed_std=("accuracy", "std"), n_seeds=("seed", "nunique"), **means
    )
    per_task["sem"] = per_task["seed_std"] / np.sqrt(per_task["n_seeds"])
    out = per_task.groupby(keys, as_index=False).agg(
        accuracy=("accuracy", "mean"),
        task_std=("accuracy", "std"),
        seed_std=("seed_std", "mean"),
        sem_sq=("sem", lambda s: float((s**2).sum())),
        n_tasks=("task", "nunique"),
        n_seeds=("n_seeds", "min"),
        **means,
    )
    out["sem"] = np.sqrt(out.pop("sem_sq")) / out["n_tasks"]  # SE of a mean of task means
    out.loc[out["n_seeds"] < 2, "sem"] = np.nan
    return out.sort_values(["method", "weak_cost", "budget", "hq_fraction"], ignore_index=True)


def table1(avg: pd.DataFrame, budgets: Iterable[float] = TABLE_BUDGETS) -> pd.DataFrame:
    """PROTOCOL Table 1: per method and weak cost, the best average accuracy over all runs whose
    cost <= budget, with the weak fraction of labels that achieved it ("-": nothing fits)."""
    rows = []
    for (method, cost), group in avg.groupby(["method", "weak_cost"]):
        row = {"method": method, "weak_cost": cost}
        for b in budgets:
            fits = group[group["cost"] <= b + 1e-9]
            if fits.empty:
                row[f"${b:g}"] = "-"
            else:
                best = fits.loc[fits["accuracy"].idxmax()]
                row[f"${b:g}"] = f"{best['accuracy']:.2f} ({best['weak_fraction']:.2f})"
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["weak_cost", "method"], ascending=[False, True], ignore_index=True)


def pareto_frontier(points: pd.DataFrame, gain: float = 0.002, window: float = 0.05) -> pd.DataFrame:
    """PROTOCOL: sort points by cost; keep a point if it beats the best accuracy so far by more
    than 0.002 and no point within +-5% of its cost is better."""
    pts = points.sort_values(["cost", "accuracy"], ascending=[True, False], ignore_index=True)
    costs, accs = pts["cost"].to_numpy(), pts["accuracy"].to_numpy()
    keep, best = [], -math.inf
    for i in range(len(pts)):
        near = (costs >= costs[i] * (1 - window)) & (costs <= costs[i] * (1 + window))
        if accs[i] > best + gain and not (accs[near] > accs[i]).any():
            keep.append(i)
            best = accs[i]
    return pts.iloc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Regime:
    budget: float
    regime: str
    """quantity-dominant, mixed, quality-dominant, or undetermined."""
    decided: bool
    best_fraction: float
    all_weak: float
    all_hq: float
    best_mixed: float
    reason: str


def regimes(
    avg: pd.DataFrame, method: str = "seq_sft", weak_cost: float = 0.1, z: float = 2.0
) -> list[Regime]:
    """The paper's regimes at each budget (Fig. 1), from how accuracy depends on the HQ fraction.

    The best allocation decides the regime only where it beats the alternatives by more than
    `z` standard errors of the difference (from the seeds' spread); otherwise the data cannot tell
    and the regime is `undetermined`. With one seed there is no spread, so nothing is decided.
    """
    sub = avg[(avg["method"] == method) & np.isclose(avg["weak_cost"], weak_cost)]
    out = []
    for budget, g in sub.groupby("budget"):
        ends = {
            "weak": g[g["hq_fraction"] == 0.0],
            "hq": g[g["hq_fraction"] == 1.0],
            "mixed": g[(g["hq_fraction"] > 0) & (g["hq_fraction"] < 1)],
        }
        best = {k: (v.loc[v["accuracy"].idxmax()] if not v.empty else None) for k, v in ends.items()}
        present = {k: b for k, b in best.items() if b is not None}
        if len(present) < 2:
            continue
        winner = max(present, key=lambda k: present[k]["accuracy"])
        w = present[winner]
        margins = []
        for k, b in present.items():
            if k != winner:
                se = math.sqrt(float(w["sem"]) ** 2 + float(b["sem"]) ** 2)
                margins.append((w["accuracy"] - b["accuracy"], se, k))
        name = {"weak": "quantity-dominant", "hq": "quality-dominant", "mixed": "mixed"}[winner]
        unknown = any(math.isnan(se) for _, se, _ in margins)
        close = [k for d, se, k in margins if not math.isnan(se) and d <= z * se]
        if unknown:
            decided, regime = False, "undetermined"
            reason = f"looks {name}, but one seed gives no spread to judge the differences"
        elif close:
            decided, regime = False, "undetermined"
            reason = f"{name} is best but within {z:g} standard errors of " + ", ".join(
                {"weak": "all-weak", "hq": "all-HQ", "mixed": "the best mix"}[k] for k in close
            )
        else:
            decided, regime = True, name
            reason = f"beats the alternatives by more than {z:g} standard errors"
        acc = {k: float(b["accuracy"]) if b is not None else math.nan for k, b in best.items()}
        out.append(
            Regime(
                float(budget),
                regime,
                decided,
                float(w["hq_fraction"]),
                acc["weak"],
                acc["hq"],
                acc["mixed"],
                reason,
            )
        )
    return out


@dataclass(frozen=True)
class Plan:
    budget: float
    weak_cost: float
    method: str
    hq_fraction: float
    n_weak: int
    n_hq: int
    expected_accuracy: float
    uncertainty: float
    """Standard error of the expectation: from the seeds where measured, NaN with one seed."""
    basis: pd.DataFrame
    """The measurements the recommendation rests on."""
    note: str


def plan(avg: pd.DataFrame, budget: float, weak_cost: float) -> Plan:
    """The method and HQ fraction with the highest expected accuracy at `budget`, interpolating
    linearly in log(budget) between the two nearest measured budgets (never extrapolating far:
    beyond the measured range the nearest budget's accuracy is used, and the note says so)."""
    if avg.empty:
        raise UserError("no stored runs to plan from", "run `labelbudget sweep` or `labelbudget demo` first")
    costs = sorted(avg["weak_cost"].unique())
    if not any(np.isclose(costs, weak_cost)):
        raise UserError(
            f"no runs at weak cost {weak_cost:g}; measured costs are {costs}",
            "pass one of those to --weak-cost, or sweep this cost first",
        )
    sub = avg[np.isclose(avg["weak_cost"], weak_cost)]
    candidates = []
    for (method, f), g in sub.groupby(["method", "hq_fraction"]):
        g = g.sort_values("budget")
        b = g["budget"].to_numpy(dtype=float)
        below, above = g[b <= budget], g[b >= budget]
        if below.empty or above.empty:
            nearest = (above if below.empty else below).iloc[0 if below.empty else -1]
            lo = hi = nearest
            t, note = (
                0.0,
                (
                    f"${budget:g} lies outside the measured budgets "
                    f"(${b.min():g}-${b.max():g}): the nearest one is used"
                ),
            )
        else:
            lo, hi = below.iloc[-1], above.iloc[0]
            span = math.log(hi["budget"]) - math.log(lo["budget"])
            t = 0.0 if span == 0 else (math.log(budget) - math.log(lo["budget"])) / span
            note = (
                "measured at this budget"
                if span == 0
                else f"interpolated between ${lo['budget']:g} and ${hi['budget']:g} (linear in log budget)"
            )
        acc = (1 - t) * lo["accuracy"] + t * hi["accuracy"]
        sem = math.sqrt(((1 - t) * lo["sem"]) ** 2 + (t * hi["sem"]) ** 2)
        candidates.append((acc, sem, method, f, pd.DataFrame([lo, hi]).drop_duplicates(), note))
    acc, sem, method, f, basis, note = max(candidates, key=lambda c: c[0])
    alloc = allocate(budget, weak_cost, f)
    return Plan(
        budget,
        weak_cost,
        method,
        float(f),
        alloc.n_weak,
        alloc.n_hq,
        float(acc),
        float(sem),
        basis[["method", "budget", "hq_fraction", "cost", "accuracy", "sem", "n_seeds", "n_tasks"]],
        note,
    )
