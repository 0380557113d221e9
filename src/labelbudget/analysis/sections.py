"""The report's tables as a reader sees them: the plan, the regimes, Table 1, the Pareto frontier,
probe beside fine-tuning and every measured allocation, with column names in words and numbers
formatted for people (`analysis.document`). The data come from `analysis.tables`, `analysis.plan`
and `analysis.answers`; here they are only worded, and every string reaches the HTML through
`document.esc` (the tables of `document.table`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.answers import Analysis, BudgetAnswer
from labelbudget.analysis.document import (
    Lines,
    accuracy,
    bought,
    count,
    esc,
    interval,
    money,
    money_shares,
    percent,
    probability,
    signed,
    spend,
    table,
    with_se,
)
from labelbudget.analysis.plan import Option
from labelbudget.analysis.points import TABLE_BUDGETS
from labelbudget.analysis.tables import best_within
from labelbudget.util.errors import UserError

REGIME_WORDS = {
    "quantity-dominant": "all weak (quantity-dominant)",
    "mixed": "a mix (mixed)",
    "quality-dominant": "all HQ (quality-dominant)",
    "undetermined": "undetermined",
}


def regime_words(name: str) -> str:
    return REGIME_WORDS.get(name, name.replace("+", " and "))


def buy(option: Option) -> str | Lines:
    """What an option buys: one line for the paper's pair, a line per source with its share of the
    money otherwise."""
    if option.sources == ("weak", "hq"):
        return bought(option.counts)
    shares = option.shares
    return Lines(
        f"{count(n)}\u00a0{s}\u00a0({percent(shares[s])})"
        for s, n in zip(option.sources, option.counts, strict=True)
    )


def plan_budgets(pts: pd.DataFrame) -> list[float]:
    """The budgets a plan table answers: those run (where something costs that little) and the
    geometric midpoints between them (where the plan predicts)."""
    positive = pts["cost"][pts["cost"] > 0]
    if positive.empty:
        return []
    budgets = sorted(b for b in pts["run_budget"].unique() if b >= positive.min())
    mids = (math.sqrt(x * y) for x, y in zip(budgets, budgets[1:], strict=False))
    return sorted({float(round(b)) for b in (*budgets, *mids)})


def plan_table(
    analysis: Analysis, weak_cost: float, budgets: list[float], results: Path | None, labels=None
) -> list[str]:
    """The recommended allocation at each budget (over every variant, or `labels`: one task's) and,
    where the plan is at the prices the runs were made at (`results` given), the command that
    runs it."""
    from labelbudget.runs.command import run_command

    rows, commands = [], []
    for b in budgets:
        try:
            p = analysis.plan(b, weak_cost, labels=labels)
        except UserError as e:
            rows.append({"budget": money(b), "method": "-", "buy": "-", "basis": e.problem})
            continue
        best, r = p.best, p.runner_up
        rows.append(
            {
                "budget": money(b),
                "method": best.label,
                "buy": buy(best),
                "cost": money(best.cost),
                "expected accuracy [95%]": interval(best.expected_accuracy, best.lo, best.hi),
                "P(best)": probability(p.p_best),
                "runner-up": "-"
                if r is None
                else Lines(
                    [
                        f"{r.label}: {bought(r.counts, r.sources)}",
                        f"{accuracy(r.expected_accuracy)}, P(best) {probability(p.p_runner_up)}",
                    ]
                ),
                "basis": p.note,
            }
        )
        if results is not None:
            command = run_command(best.config, best.counts, results)
            commands.append(f"<li>{esc(money(b))}: <code>{esc(command)}</code></li>")
    out = [table(rows)]
    if commands:
        out.append(
            "<p>To run a recommendation (each command runs as printed):</p><ul>" + "".join(commands) + "</ul>"
        )
    return out


def regime_table(found: list[BudgetAnswer]) -> str:
    """Where the accuracy peak lies along each budget line, with the posterior's probabilities,
    and the best affordable buy."""
    rows = []
    for a in found:
        r, b = a.regime, a.best
        row = {"budget": money(r.budget), "regime": regime_words(r.regime)}
        if b.sources == ("weak", "hq"):
            row |= {
                "P(all weak)": probability(r.probabilities["quantity-dominant"]),
                "P(a mix)": probability(r.probabilities["mixed"]),
                "P(all HQ)": probability(r.probabilities["quality-dominant"]),
            }
        else:
            ranked = sorted(r.probabilities.items(), key=lambda kv: -kv[1])
            row["P(the peak buys ...)"] = Lines(
                f"{regime_words(k)} {probability(v)}" for k, v in ranked if v >= 0.005
            )
        row |= {
            "best buy": buy(b),
            "expected accuracy [95%]": interval(b.expected_accuracy, b.lo, b.hi),
            "P(best for this method)": probability(a.plan.p_best),
            "budget line": "the runs' allocations" if a.measured_line else "predicted",
        }
        rows.append(row)
    return table(rows)


def table1_table(pts: pd.DataFrame, budgets=TABLE_BUDGETS) -> str:
    """Table 1 for a reader: per variant and weak price, the best accuracy at cost <= each budget,
    with the share of its labels that are weak (the paper's), or for several sources the budget's
    split across them."""
    rows = []
    for label, cost, best in best_within(pts, budgets):
        several = math.isnan(cost)
        row = {"method": label, "weak labels at": "own prices" if several else money(cost)}
        for b, p in best.items():
            head = f"≤ {money(b)}"
            if p is None:
                row[head] = "-"
            elif several:
                row[head] = Lines(
                    [accuracy(p["accuracy"]), *spend(money_shares(p["counts"], p["sources"], p["prices"]))]
                )
            else:
                weak = p["weak_fraction"]
                share = "all weak" if weak == 1 else "all HQ" if weak == 0 else f"{percent(weak)} weak"
                row[head] = Lines([accuracy(p["accuracy"]), share])
        rows.append((math.inf if several else -cost, label, row))
    return table([row for *_, row in sorted(rows, key=lambda t: t[:2])])


def frontier_table(frontier: pd.DataFrame, several: bool) -> str:
    rows = []
    for _, p in frontier.iterrows():
        row = {
            "method": p["label"],
            "labels bought": bought(p["counts"], p["sources"]),
            "cost": money(p["cost"]),
            "accuracy ± SE": with_se(p["accuracy"], p["sem"]),
        }
        if several:
            row["budget split"] = spend(money_shares(p["counts"], p["sources"], p["prices"]))
        else:
            row["weak share of labels"] = percent(p["weak_fraction"])
        row["seeds"] = int(p["n_seeds"])
        rows.append(row)
    return table(rows)


def points_table(pts: pd.DataFrame) -> str:
    """Every measured allocation once (its accuracy does not depend on the price it is costed at)."""
    if pts.empty:
        return table([])
    rows = []
    unique = pts.drop_duplicates(["variant", "counts"]).copy()
    unique["_size"] = unique["counts"].map(sum)
    for _, p in unique.sort_values(["label", "run_budget", "_size"]).iterrows():
        pair = tuple(p["sources"]) == ("weak", "hq")
        rows.append(
            {
                "method": p["label"],
                "labels bought": bought(p["counts"], p["sources"]),
                "run at": money(p["run_budget"])
                + (f", weak labels at {money(p['run_cost'])}" if pair else ""),
                "accuracy ± SE": with_se(p["accuracy"], p["sem"]),
                "AUROC": accuracy(p["auroc"]),
                "weak (cheapest) labels' accuracy": accuracy(p["weak_accuracy"]),
                "seeds": int(p["n_seeds"]),
                "tasks": int(p["n_tasks"]),
            }
        )
    return table(rows)


def probe_table(compared: pd.DataFrame) -> str:
    rows = [
        {
            "method": c["method"],
            "labels bought": bought(c["counts"], c["sources"]),
            "fine-tuned accuracy": accuracy(c["fine-tuned accuracy"]),
            "fine-tuned seeds": int(c["fine-tuned seeds"]),
            "probe accuracy ± SE": with_se(c["probe accuracy"], c["probe SE"]),
            "probe seeds": int(c["probe seeds"]),
            "probe - fine-tuned": signed(c["probe - fine-tuned"]),
        }
        for _, c in compared.iterrows()
    ]
    return table(rows)


def ranks_table(ranks: pd.DataFrame) -> str:
    words = {
        "weak labeler": "weak labeler (texts)",
        "allocations": "allocations",
        "lora seeds": "LoRA seeds",
        "kendall tau": "Kendall's tau",
        "probe": "probe means",
        "lora": "LoRA means",
    }
    out = ranks.rename(columns=words).copy()
    for column in ("probe means", "LoRA means"):
        out[column] = out[column].map(lambda s: Lines(str(s).split(", ")))
    out["Kendall's tau"] = out["Kendall's tau"].map(lambda t: f"{t:.2f}")
    return table(out)


def shares_array(option: Option) -> np.ndarray:
    return np.array([option.shares[s] for s in option.sources])
