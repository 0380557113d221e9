"""The paper's regimes (Fig. 1) at each budget, and the answer in plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelbudget.analysis.tables import spending


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
