"""Points: stored runs as averaged, re-costed allocations, the input of every answer.

Pure functions of records, following the authors' analysis (`notebooks/figures.ipynb` in
EleutherAI/scalable-elicitation; PROTOCOL, "Metrics and analysis"):

- A point is a *variant* (a run's whole config minus its seed, task name, budget, weak cost and
  HQ fraction: method, models, schedule, options, ...) at an *allocation* (n_weak, n_hq). Runs
  that differ in anything else are never merged.
- Accuracy is averaged over seeds per task, then over tasks, keeping only allocations present for
  every task of the variant (what is dropped is listed, never silently averaged over fewer).
- An allocation's accuracy does not depend on the weak-label price, so every point is re-costed at
  every weak cost of interest: cost = n_weak * c + n_hq.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

from labelbudget.allocation import sources_of
from labelbudget.config import RunConfig, run_config_from_dict
from labelbudget.labelspace import predicted
from labelbudget.methods import get_method
from labelbudget.runs.identity import canonical
from labelbudget.runs.record import Record, counts_of, decode_predictions, prices_of_record
from labelbudget.util.hashing import stable_hash

TABLE_BUDGETS = (5, 17, 65, 257, 1025, 4097)
"""PROTOCOL: Table 1 uses budgets 4**i + 1 to absorb rounding."""

WEAK_COSTS = (0.5, 0.1, 0.01)
"""The paper's weak-label prices; every allocation is re-costed at each (and at any price the
records were run at)."""

NOT_VARIANT = ("seed", "budget", "weak_cost", "hq_fraction", "shares", "task.task")
"""Config fields that do not make a run a different variant: the seed (averaged over), the task
name (averaged over), and budget/prices/shares (replaced by the allocation they buy; a source's
price is no part of it, only its name and kind: `_variant`)."""

EPS = 1e-6


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "label_map":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value, sort_keys=True)
    return out


def _variant(config: RunConfig) -> dict:
    out = {k: v for k, v in _flat(canonical(config)).items() if k not in NOT_VARIANT}
    if config.sources:  # the sources without their prices: re-costed at any
        out["sources"] = json.dumps([[s.name, s.spec] for s in sources_of(config)])
    return out


WORDS = {
    "sources": lambda v: " + ".join(name for name, _ in v),
    "classes": lambda v: f"{v} classes",
    "weak.weak_n_train": lambda v: f"labeler on {v}",
    "weak.weak_n_val": lambda v: f"validated on {v}",
    "task.max_pool": lambda v: f"pool {v}",
}
"""How a variant's label names a field it differs in (others: `field=value`)."""


def _in_words(key: str, value) -> str:
    return WORDS[key](value) if key in WORDS else f"{key.split('.')[-1]}={value}"


def frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per run, with its variant (id and a readable label: the method, and what differs
    between that method's variants present) and its allocation. Configs are read as today's
    (`config.run_config_from_dict`), so runs stored by older versions are the same variants as
    new runs of the same experiment."""
    records = list(records)
    configs = [run_config_from_dict(r.config) for r in records]
    variants = [_variant(c) for c in configs]
    # what runs read beyond their config (`runs.identity.inputs`) keeps them apart where a store
    # mixes it: bf16 and fp32 runs are other variants, an edited task file another task
    read = [r.inputs or {} for r in records]
    for v, r in zip(variants, records, strict=True):  # K classes are never averaged with two
        if r.classes and len(r.classes) != 2:
            v["classes"] = json.dumps(len(r.classes))
    if len({i.get("compute") for i in read} - {None}) > 1:
        for v, i in zip(variants, read, strict=True):
            v["compute"] = json.dumps(i.get("compute"))
    files: dict[str, set] = {}
    for r, i in zip(records, read, strict=True):
        files.setdefault(r.task, set()).add(i.get("task_file"))
    tasks = [
        r.task if len(files[r.task] - {None}) <= 1 else f"{r.task}@{i.get('task_file') or 'unrecorded'}"
        for r, i in zip(records, read, strict=True)
    ]
    varying = {}  # per method: the fields in which its variants differ (they name the variant)
    for method in {r.method for r in records}:
        mine = [v for r, v in zip(records, variants, strict=True) if r.method == method]
        varying[method] = sorted({k for v in mine for k in v if len({w.get(k) for w in mine}) > 1})
    rows = []
    for r, c, v, task in zip(records, configs, variants, tasks, strict=True):
        extra = ", ".join(_in_words(k, json.loads(v[k])) for k in varying[r.method] if k in v)
        rows.append(
            {
                "variant": stable_hash(v, 12),
                "label": r.method + (f" [{extra}]" if extra else ""),
                "method": r.method,
                "base_method": c.method,
                "learner": c.learner if get_method(c.method).learner else "none",
                "strong_model": r.strong_model,
                "weak_model": r.weak_model,
                "task": task,
                "seed": r.seed,
                "n_weak": r.n_weak,
                "n_hq": r.n_hq,
                "counts": tuple(counts_of(r).values()),
                "sources": tuple(counts_of(r)),
                "prices": tuple(prices_of_record(r).values()),
                "run_budget": r.budget,
                "run_cost": r.weak_cost,
                "run_fraction": r.hq_fraction,
                "accuracy": r.accuracy,
                "auroc": r.auroc,
                "n_test": r.n_test,
                "correct": _correct(r),
                "chance": _chance(r),
                "weak_accuracy": r.weak_accuracy,
                "config": json.dumps(r.config, sort_keys=True),
                "inputs": json.dumps(r.inputs or {}, sort_keys=True),
            }
        )
    return pd.DataFrame(rows)


def _correct(r: Record) -> np.ndarray | None:
    """Which test examples the run got right (from its stored predictions), for the test set's
    shared error in the accuracy surface (`analysis.surface.SharedTest`); None where not stored."""
    if not getattr(r, "predictions", None):
        return None
    logits, labels = decode_predictions(r.predictions)
    return predicted(logits) == labels


def _chance(r: Record) -> float:
    """The accuracy of knowing nothing on the run's test set (the surface's anchor): 1/K on a
    balanced one, the largest class's share on a natural mix (0.5 where not stored: records
    before K classes were binary and, but for `--test-mix natural`, balanced)."""
    k = len(r.classes) if r.classes else 2
    if not getattr(r, "predictions", None):
        return 1 / k
    _, labels = decode_predictions(r.predictions)
    return float(np.bincount(labels, minlength=k).max() / len(labels)) if len(labels) else 1 / k


POINT = ["variant", "counts"]
DESCRIBE = ["label", "method", "base_method", "learner", "strong_model", "weak_model"]


def average(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per task, then over tasks, per (variant, allocation).

    Columns: `seed_std` (the seeds' standard deviation, averaged over tasks), `task_std` (spread
    of the task means), `sem` (standard error of the mean accuracy from the seeds; NaN with one
    seed: the spread is then unknown), `n_seeds` (the fewest of any task). Allocations missing
    for some task of their variant are dropped and listed in `.attrs["missing"]`."""
    if df.empty:
        out = pd.DataFrame(columns=[*POINT, *DESCRIBE, "accuracy", "sem"])
        out.attrs["missing"] = []
        return out
    per_task = df.groupby([*POINT, "task"], as_index=False).agg(
        accuracy=("accuracy", "mean"),
        seed_std=("accuracy", "std"),
        n_seeds=("seed", "nunique"),
        auroc=("auroc", "mean"),
        weak_accuracy=("weak_accuracy", "mean"),
    )
    per_task["sem"] = per_task["seed_std"] / np.sqrt(per_task["n_seeds"])
    tasks_of = df.groupby("variant")["task"].agg(lambda s: frozenset(s))
    have = per_task.groupby(POINT)["task"].agg(lambda s: frozenset(s))
    labels = df.drop_duplicates("variant").set_index("variant")
    missing = []
    for (variant, counts), tasks in have.items():
        lacking = tasks_of[variant] - tasks
        if lacking:
            bought = " + ".join(
                f"{n} {s}" for n, s in zip(counts, labels.loc[variant, "sources"], strict=True)
            )
            missing.append(
                f"{labels.loc[variant, 'label']}: {bought.replace(' hq', ' HQ')} has no runs on "
                f"{', '.join(sorted(lacking))}, so it is left out of the averages over tasks"
            )
    complete = per_task[[tasks_of[v] == have[(v, c)] for v, c in per_task[POINT].itertuples(index=False)]]
    out = complete.groupby(POINT, as_index=False).agg(
        accuracy=("accuracy", "mean"),
        task_std=("accuracy", "std"),
        seed_std=("seed_std", "mean"),
        sem_sq=("sem", lambda s: float((s**2).sum())),
        n_tasks=("task", "nunique"),
        n_seeds=("n_seeds", "min"),
        auroc=("auroc", "mean"),
        weak_accuracy=("weak_accuracy", "mean"),
    )
    out["sem"] = np.sqrt(out.pop("sem_sq")) / out["n_tasks"]  # SE of a mean of task means
    out.loc[out["n_seeds"] < 2, "sem"] = np.nan
    firsts = df.sort_values("seed").drop_duplicates(POINT)[
        [
            *POINT,
            "n_weak",
            "n_hq",
            "sources",
            "prices",
            *DESCRIBE,
            "run_budget",
            "run_cost",
            "run_fraction",
            "config",
        ]
    ]
    out = out.merge(firsts, on=POINT, how="left")
    out.attrs["missing"] = missing
    return out.sort_values(["label", "n_hq", "n_weak"], ignore_index=True)


def recost(avg: pd.DataFrame, weak_costs: Iterable[float] | None = None) -> pd.DataFrame:
    """Every averaged allocation of the paper's pair at every weak cost: the run costs and the
    paper's costs unless `weak_costs` is given; an allocation of several sources at the prices it
    was run at (its `weak_cost` NaN). Adds `weak_cost`, `cost`, `weak_fraction` (of labels not
    from the dearest source) and `weak_share` (of the money spent on them)."""
    pair = avg[avg["sources"].map(lambda s: tuple(s) == ("weak", "hq"))] if "sources" in avg else avg
    several = avg.drop(pair.index)
    if weak_costs is None:
        weak_costs = sorted(
            {*WEAK_COSTS, *pair.get("run_cost", pd.Series(dtype=float)).unique()}, reverse=True
        )
    frames = []
    for c in weak_costs:
        cost = pair["n_weak"] * c + pair["n_hq"]
        frames.append(
            pair.assign(
                weak_cost=float(c),
                cost=cost,
                weak_fraction=pair["n_weak"] / (pair["n_weak"] + pair["n_hq"]).clip(lower=1),
                weak_share=(pair["n_weak"] * c) / cost.where(cost > 0, 1),
            )
        )
    if len(several):
        money = [np.multiply(c, p) for c, p in zip(several["counts"], several["prices"], strict=True)]
        cost = pd.Series([float(m.sum()) for m in money], index=several.index)
        frames.append(
            several.assign(
                weak_cost=np.nan,
                cost=cost,
                weak_fraction=several["n_weak"] / (several["n_weak"] + several["n_hq"]).clip(lower=1),
                weak_share=[float(m[:-1].sum()) / max(float(m.sum()), 1e-12) for m in money],
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else avg
    out.attrs["missing"] = avg.attrs.get("missing", [])
    return out


def points(records: Iterable[Record], weak_costs: Iterable[float] | None = None) -> pd.DataFrame:
    """Records -> averaged, re-costed points (the input of every table, frontier and plan)."""
    return recost(average(frame(records)), weak_costs)
