"""Answers from stored runs: averages, Table 1, the Pareto frontier, regimes, and a plan.

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

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labelbudget.budget import allocate
from labelbudget.errors import UserError
from labelbudget.store import Record

TABLE_BUDGETS = (5, 17, 65, 257, 1025, 4097)
"""PROTOCOL: Table 1 uses budgets 4**i + 1 to absorb rounding."""

WEAK_COSTS = (0.5, 0.1, 0.01)
"""The paper's weak-label prices; every allocation is re-costed at each (and at any price the
records were run at)."""

NOT_VARIANT = ("seed", "budget", "weak_cost", "hq_fraction", "task.task")
"""Config fields that do not make a run a different variant: the seed (averaged over), the task
name (averaged over), and budget/cost/fraction (replaced by the allocation they buy)."""

EPS = 1e-6


def _flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "label_map":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value, sort_keys=True)
    return out


def _variant(config: dict) -> dict:
    return {k: v for k, v in _flat(config).items() if k not in NOT_VARIANT}


def frame(records: Iterable[Record]) -> pd.DataFrame:
    """One row per run, with its variant (id and a readable label: the method, and what differs
    between that method's variants present) and its allocation."""
    records = list(records)
    variants = [_variant(r.config) for r in records]
    varying = {}  # per method: the fields in which its variants differ (they name the variant)
    for method in {r.method for r in records}:
        mine = [v for r, v in zip(records, variants, strict=True) if r.method == method]
        varying[method] = sorted({k for v in mine for k in v if len({w.get(k) for w in mine}) > 1})
    rows = []
    for r, v in zip(records, variants, strict=True):
        extra = ", ".join(f"{k.split('.')[-1]}={json.loads(v[k])}" for k in varying[r.method] if k in v)
        rows.append(
            {
                "variant": hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()[:12],
                "label": r.method + (f" [{extra}]" if extra else ""),
                "method": r.method,
                "strong_model": r.strong_model,
                "weak_model": r.weak_model,
                "task": r.task,
                "seed": r.seed,
                "n_weak": r.n_weak,
                "n_hq": r.n_hq,
                "run_budget": r.budget,
                "run_cost": r.weak_cost,
                "run_fraction": r.hq_fraction,
                "accuracy": r.accuracy,
                "auroc": r.auroc,
                "weak_accuracy": r.weak_accuracy,
                "config": json.dumps(r.config, sort_keys=True),
            }
        )
    return pd.DataFrame(rows)


POINT = ["variant", "n_weak", "n_hq"]
DESCRIBE = ["label", "method", "strong_model", "weak_model"]


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
    for (variant, n_weak, n_hq), tasks in have.items():
        lacking = tasks_of[variant] - tasks
        if lacking:
            missing.append(
                f"{labels.loc[variant, 'label']}: {n_weak} weak + {n_hq} HQ has no runs on "
                f"{', '.join(sorted(lacking))}, so it is left out of the averages over tasks"
            )
    complete = per_task[
        [tasks_of[v] == have[(v, w, h)] for v, w, h in per_task[POINT].itertuples(index=False)]
    ]
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
        [*POINT, *DESCRIBE, "run_budget", "run_cost", "run_fraction", "config"]
    ]
    out = out.merge(firsts, on=POINT, how="left")
    out.attrs["missing"] = missing
    return out.sort_values(["label", "n_hq", "n_weak"], ignore_index=True)


def recost(avg: pd.DataFrame, weak_costs: Iterable[float] | None = None) -> pd.DataFrame:
    """Every averaged allocation at every weak cost: the run costs and the paper's costs unless
    `weak_costs` is given. Adds `weak_cost`, `cost`, `weak_fraction` (of labels) and
    `weak_share` (of the money spent)."""
    if weak_costs is None:
        weak_costs = sorted(
            {*WEAK_COSTS, *avg.get("run_cost", pd.Series(dtype=float)).unique()}, reverse=True
        )
    frames = []
    for c in weak_costs:
        cost = avg["n_weak"] * c + avg["n_hq"]
        frames.append(
            avg.assign(
                weak_cost=float(c),
                cost=cost,
                weak_fraction=avg["n_weak"] / (avg["n_weak"] + avg["n_hq"]).clip(lower=1),
                weak_share=(avg["n_weak"] * c) / cost.where(cost > 0, 1),
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else avg
    out.attrs["missing"] = avg.attrs.get("missing", [])
    return out


def points(records: Iterable[Record], weak_costs: Iterable[float] | None = None) -> pd.DataFrame:
    """Records -> averaged, re-costed points (the input of every table, frontier and plan)."""
    return recost(average(frame(records)), weak_costs)


def table1(pts: pd.DataFrame, budgets: Iterable[float] = TABLE_BUDGETS) -> pd.DataFrame:
    """PROTOCOL Table 1: per variant and weak cost, the best average accuracy over all points whose
    cost <= budget, with the weak fraction of labels that achieved it ("-": nothing fits)."""
    rows = []
    for (label, cost), group in pts.groupby(["label", "weak_cost"]):
        row = {"method": label, "weak_cost": cost}
        for b in budgets:
            fits = group[group["cost"] <= b + EPS]
            if fits.empty:
                row[f"${b:g}"] = "-"
            else:
                best = fits.loc[fits["accuracy"].idxmax()]
                row[f"${b:g}"] = f"{best['accuracy']:.2f} ({best['weak_fraction']:.2f})"
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


def spending(pts: pd.DataFrame, budget: float, weak_cost: float) -> pd.DataFrame:
    """The points at `weak_cost` that spend `budget` to within one weak label (the paper's
    rounding leaves less than one weak label's price unspent): B - c < cost <= B."""
    sub = pts[np.isclose(pts["weak_cost"], weak_cost)]
    return sub[(sub["cost"] <= budget + EPS) & (sub["cost"] > budget - weak_cost - EPS)]


def kind(n_weak: int, n_hq: int) -> str:
    """An allocation's kind, by what it actually buys."""
    return "weak" if n_hq == 0 else "hq" if n_weak == 0 else "mixed"


REGIME = {"weak": "quantity-dominant", "hq": "quality-dominant", "mixed": "mixed"}
ENDS = {"weak": "all-weak", "hq": "all-HQ", "mixed": "the best mix"}


@dataclass(frozen=True)
class Regime:
    budget: float
    regime: str
    """quantity-dominant, mixed, quality-dominant, or undetermined."""
    decided: bool
    best_weak_share: float
    """Fraction of the budget the best allocation spent on weak labels."""
    all_weak: float
    all_hq: float
    best_mixed: float
    reason: str


def regimes(
    pts: pd.DataFrame, label: str = "seq_sft", weak_cost: float = 0.1, z: float = 2.0
) -> list[Regime]:
    """The paper's regimes (Fig. 1) at each budget the variant was run at, from the allocations
    that spend that budget at `weak_cost`, each classified by what it buys (no HQ label:
    all-weak; no weak label: all-HQ; else a mix).

    A regime says which pure strategy can be ruled out: an end is ruled out where the best
    allocation beats it by more than `z` standard errors of the difference (from the seeds'
    spread). All-HQ ruled out but not all-weak: quantity-dominant; all-weak ruled out but not
    all-HQ: quality-dominant; both ruled out by a mix: mixed. Where neither end can be ruled out,
    an end was not measured (the pool cannot supply it), or one seed gives no spread, the data
    cannot tell and the regime is `undetermined`.
    """
    sub = pts[pts["label"] == label]
    out = []
    for budget in sorted(sub["run_budget"].unique()):
        g = spending(sub, budget, weak_cost)
        if g.empty:
            continue
        kinds = g.apply(lambda r: kind(r["n_weak"], r["n_hq"]), axis=1)
        present = {k: g[kinds == k].loc[g[kinds == k]["accuracy"].idxmax()] for k in set(kinds)}
        if len(present) < 2:
            continue
        winner = max(present, key=lambda k: present[k]["accuracy"])
        w = present[winner]

        def ruled_out(k: str, w=w, winner=winner, present=present) -> bool | None:
            """Whether the best beats end k beyond noise; None: not measured, or no spread."""
            if k not in present:
                return None
            if k == winner:
                return False
            se = math.sqrt(float(w["sem"]) ** 2 + float(present[k]["sem"]) ** 2)
            return None if math.isnan(se) else bool(w["accuracy"] - present[k]["accuracy"] > z * se)

        weak_out, hq_out = ruled_out("weak"), ruled_out("hq")
        decided = True
        if weak_out is None or hq_out is None:
            missing = [ENDS[k] for k in ("weak", "hq") if k not in present]
            why = f"{' and '.join(missing)} not measured" if missing else "one seed gives no spread"
            regime, decided, reason = "undetermined", False, f"looks {REGIME[winner]}, but {why}"
        elif hq_out and not weak_out:
            regime, reason = "quantity-dominant", f"all-HQ is more than {z:g} SE below the best"
        elif weak_out and not hq_out:
            regime, reason = "quality-dominant", f"all-weak is more than {z:g} SE below the best"
        elif weak_out and hq_out:
            regime, reason = "mixed", f"a mix beats all-weak and all-HQ by more than {z:g} SE each"
        else:
            regime, decided = "undetermined", False
            reason = f"{ENDS[winner]} is best, but all-weak and all-HQ are both within {z:g} SE of it"
        acc = {k: float(present[k]["accuracy"]) if k in present else math.nan for k in REGIME}
        out.append(
            Regime(
                float(budget),
                regime,
                decided,
                float(w["weak_share"]),
                acc["weak"],
                acc["hq"],
                acc["mixed"],
                reason,
            )
        )
    return out


@dataclass(frozen=True)
class Option:
    """One candidate answer of `plan`: a variant at a share of the budget spent on HQ labels."""

    label: str
    hq_fraction: float
    n_weak: int
    n_hq: int
    expected_accuracy: float
    uncertainty: float
    """Standard error: the seeds' spread (interpolated) combined with the interpolation's own
    error (half the accuracy change between the two budgets it lies between, at most); NaN where
    one seed leaves the spread unknown."""
    basis: str
    config: str = field(repr=False, default="")


@dataclass(frozen=True)
class Plan:
    budget: float
    weak_cost: float
    best: Option
    runner_up: Option | None
    tie: bool
    """The runner-up is within 2 standard errors of the best: either is a sound choice."""
    extrapolated: bool
    basis: pd.DataFrame
    """The measurements the recommendation rests on."""
    note: str

    @property
    def method(self) -> str:
        return self.best.label


def plan(
    pts: pd.DataFrame,
    budget: float,
    weak_cost: float,
    feasible: Callable[[str, float, float, float], str | None] | None = None,
    extrapolate: bool = False,
    z: float = 2.0,
) -> Plan:
    """The variant and HQ share of the budget with the highest expected accuracy at `budget`.

    Per (variant, HQ share) measured at `weak_cost` (re-costed), the accuracy is interpolated
    linearly in log(budget) between the nearest measured budgets around `budget`. Outside the
    measured budgets it refuses unless `extrapolate`, and then says it is extrapolating (the
    nearest budget's accuracy is used). `feasible(config_json, budget, weak_cost, hq_fraction)`
    returns why a candidate cannot be run (the method refuses it, the pool cannot supply it), or
    None; such candidates are never recommended.
    """
    if budget <= 0 or not math.isfinite(budget):
        raise UserError(f"--budget must be a positive number of $, got {budget:g}", "pass e.g. --budget 100")
    if not 0 < weak_cost <= 1:
        raise UserError(f"--weak-cost must be in (0, 1], got {weak_cost:g}", "pass e.g. --weak-cost 0.1")
    if pts.empty:
        raise UserError("no stored runs to plan from", "run `labelbudget sweep` or `labelbudget demo` first")
    sub = recost(pts.drop_duplicates(POINT), [weak_cost])
    # The HQ share of the budget: the run's own fraction at the price it was run at, else the
    # share the re-costed allocation spends (rounded, so that budgets line up).
    designed = sub[sub["cost"] > 0].assign(
        share=lambda d: np.where(
            np.isclose(d["run_cost"], weak_cost), d["run_fraction"], (d["n_hq"] / d["cost"]).round(2)
        )
    )
    lo_b, hi_b = designed["cost"].min(), designed["cost"].max()
    extrapolated = budget > hi_b * (1 + 0.05) or budget < lo_b * (1 - 0.05)
    if extrapolated and not extrapolate:
        raise UserError(
            f"${budget:g} lies outside the measured costs at weak cost ${weak_cost:g} "
            f"(${lo_b:.3g}-${hi_b:.3g}), so any recommendation would be an extrapolation",
            "plan for a budget inside that range, sweep budgets around this one, or pass "
            "--extrapolate to use the nearest measured budget (flagged as such)",
        )
    options, refused = [], []
    for (label, share), g in designed.groupby(["label", "share"]):
        g = g.sort_values("cost")
        c = g["cost"].to_numpy(dtype=float)
        below, above = g[c <= budget * (1 + EPS)], g[c >= budget * (1 - EPS)]
        if below.empty or above.empty:
            if not extrapolate:
                continue
            lo = hi = (above if below.empty else below).iloc[0 if below.empty else -1]
            t, note = 0.0, f"extrapolated from ${lo['cost']:.4g} (nearest measured)"
        else:
            lo, hi = below.iloc[-1], above.iloc[0]
            span = math.log(hi["cost"]) - math.log(lo["cost"])
            t = 0.0 if span <= 0 else (math.log(budget) - math.log(lo["cost"])) / span
            note = (
                f"measured at ${lo['cost']:.4g}"
                if span <= 0 or t in (0.0, 1.0)
                else f"interpolated between ${lo['cost']:.4g} and ${hi['cost']:.4g} (linear in log budget)"
            )
        acc = (1 - t) * lo["accuracy"] + t * hi["accuracy"]
        seeds = math.sqrt(((1 - t) * lo["sem"]) ** 2 + (t * hi["sem"]) ** 2)
        interp = min(t, 1 - t) * abs(hi["accuracy"] - lo["accuracy"])
        alloc = allocate(budget, weak_cost, float(share))
        option = Option(
            label,
            float(share),
            alloc.n_weak,
            alloc.n_hq,
            float(acc),
            math.hypot(seeds, interp),
            note,
            lo["config"],
        )
        why = feasible(lo["config"], budget, weak_cost, float(share)) if feasible else None
        (refused if why else options).append((option, why))
    if not options:
        reasons = "; ".join(f"{o.label} at HQ share {o.hq_fraction:g}: {why}" for o, why in refused[:3])
        raise UserError(
            f"no measured allocation can be run at ${budget:g} with weak cost ${weak_cost:g}"
            + (f" ({reasons})" if reasons else ""),
            "plan for a budget inside the measured range, or sweep this budget first",
        )
    ranked = sorted((o for o, _ in options), key=lambda o: -o.expected_accuracy)
    best = ranked[0]
    runner = next((o for o in ranked[1:] if (o.label, o.hq_fraction) != (best.label, best.hq_fraction)), None)
    tie = False
    if runner is not None:
        se = math.hypot(best.uncertainty, runner.uncertainty)
        tie = math.isnan(se) or best.expected_accuracy - runner.expected_accuracy <= z * se
    basis = designed[(designed["label"] == best.label) & (designed["share"] == best.hq_fraction)]
    note = best.basis + (" - EXTRAPOLATED beyond the measured budgets" if extrapolated else "")
    if refused:
        note += f"; {len(refused)} candidate(s) left out because they cannot be run at this budget"
    return Plan(
        budget,
        weak_cost,
        best,
        runner,
        tie,
        extrapolated,
        basis[["label", "n_weak", "n_hq", "cost", "accuracy", "sem", "n_seeds", "n_tasks"]],
        note,
    )


def probe_vs_finetuning(pts: pd.DataFrame) -> pd.DataFrame:
    """Each fine-tuned (LoRA) point beside the probe of the same method at the same allocation:
    how far the fast probe agrees with full fine-tuning."""
    pts = pts.drop_duplicates(["label", "n_weak", "n_hq"])
    probes = pts[pts["method"].str.startswith("probe_")]
    rows = []
    for _, ft in pts[~pts["method"].str.startswith("probe_") & (pts["method"] != "icl")].iterrows():
        twin = probes[
            (probes["method"] == "probe_" + ft["method"])
            & (probes["n_weak"] == ft["n_weak"])
            & (probes["n_hq"] == ft["n_hq"])
        ]
        if twin.empty:
            continue
        p = twin.iloc[0]
        rows.append(
            {
                "method": ft["method"],
                "n_weak": ft["n_weak"],
                "n_hq": ft["n_hq"],
                "fine-tuned accuracy": ft["accuracy"],
                "fine-tuned seeds": ft["n_seeds"],
                "probe accuracy": p["accuracy"],
                "probe SE": p["sem"],
                "probe seeds": p["n_seeds"],
                "probe - fine-tuned": p["accuracy"] - ft["accuracy"],
            }
        )
    return pd.DataFrame(rows)


def answer(pts: pd.DataFrame, label: str, weak_cost: float = 0.1) -> list[str]:
    """The question, answered in plain words for one variant: what to buy at each budget it was
    run at, whether that is decided against the seeds' spread, and where the strong model beats
    its weak labels."""
    lines = []
    for r in regimes(pts, label, weak_cost):
        if r.regime == "quantity-dominant":
            what = "buy only weak labels"
        elif r.regime == "quality-dominant":
            what = "buy only HQ labels"
        elif r.regime == "mixed":
            what = f"buy a mix, {r.best_weak_share:.0%} of the budget on weak labels"
        else:
            what = f"undetermined ({r.reason})"
        best = max(a for a in (r.all_weak, r.all_hq, r.best_mixed) if not math.isnan(a))
        lines.append(f"at ${r.budget:g}: {what}; best accuracy {best:.3f}")
    sub = pts[(pts["label"] == label) & np.isclose(pts["weak_cost"], weak_cost)]
    if not sub.empty:
        weak = float(sub["weak_accuracy"].mean())
        top = sub.loc[sub["accuracy"].idxmax()]
        se = "" if math.isnan(top["sem"]) else f" +- {top['sem']:.3f}"
        verdict = (
            "beats"
            if top["accuracy"] - (0 if math.isnan(top["sem"]) else 2 * top["sem"]) > weak
            else "does not clearly beat"
        )
        lines.append(
            f"the strong model {verdict} its weak labels ({weak:.3f} accurate): its best is "
            f"{top['accuracy']:.3f}{se} with {top['n_weak']} weak + {top['n_hq']} HQ labels "
            f"(${top['cost']:.4g})"
        )
    return lines
