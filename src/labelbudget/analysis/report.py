"""One self-contained HTML report (plots embedded) from the results store, plus the raw records
as CSV next to it: tables, the Pareto frontier, the regimes, plans for a few budgets, and what
the stored runs do not cover compared with the paper.

A report is a file people send each other, and its strings come from data, configs and file
names (a task file may be named `x"><img src=x onerror=...>.csv`): every one of them reaches the
HTML through one function, `_esc`, tables included, so none is ever markup. Both files are
written whole or not at all, only inside the results folder (never through a link), and the CSV,
made to be opened in a spreadsheet, has its texts guarded against formulas."""

from __future__ import annotations

import base64
import html
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.answers import Analysis
from labelbudget.analysis.plots import cost_plot, weak_fraction_plot
from labelbudget.analysis.points import average, recost
from labelbudget.analysis.regimes import DECIDE
from labelbudget.analysis.tables import pareto_frontier, probe_vs_finetuning, rank_agreement, table1
from labelbudget.runs.store import Store, unsupplied
from labelbudget.tasks.paper import TABLE1_TASKS
from labelbudget.util.atomic import atomic_path, refuse_links
from labelbudget.util.errors import UserError
from labelbudget.util.spreadsheet import guard_frame

PAPER_METHODS = ("seq_sft", "prompted_seq_sft", "logconf", "uncertainty", "icl")
PAPER_BUDGETS = (16, 64, 256, 1024, 4096, 8192)


def _esc(value: object) -> str:
    """The one way any string reaches the HTML: as text, never markup (quotes too, for
    attributes)."""
    return html.escape(str(value), quote=True)


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return "<p><i>not enough data for this plot</i></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _cell(value: object) -> str:
    """A table cell as HTML text: floats to 3 decimals, missing values as n/a, the rest escaped."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float | np.floating):
        return f"{value:.3f}"
    return _esc(value)


def _table(df: pd.DataFrame) -> str:
    """A table whose every cell and header went through `_esc` (pandas' own escaping is not
    used: one path for all HTML)."""
    return df.map(_cell).rename(columns=_esc).to_html(index=False, escape=False, border=0)


def coverage(df: pd.DataFrame) -> list[str]:
    """What the stored runs leave out, compared with the paper's experiments."""
    gaps = []
    fine_tuned = set(df.loc[df["learner"].isin(["lora", "none"]), "base_method"])
    probed = set(df.loc[df["learner"] == "probe", "base_method"])
    missing = [m for m in PAPER_METHODS if m not in fine_tuned | probed]
    if missing:
        gaps.append(f"methods not run: {', '.join(missing)}")
    probes_only = [m for m in PAPER_METHODS if m not in fine_tuned and m in probed]
    if probes_only:
        gaps.append(f"run as linear probes only, not fine-tuned: {', '.join(probes_only)}")
    tasks = set(df["task"])
    if not tasks & set(TABLE1_TASKS):
        gaps.append(
            f"none of the paper's Table-1 tasks ({', '.join(TABLE1_TASKS)}); tasks here: "
            f"{', '.join(sorted(tasks))}"
        )
    budgets = set(df["run_budget"])
    if not set(PAPER_BUDGETS) <= budgets:
        gaps.append(f"budgets not run: {', '.join(f'${b:g}' for b in PAPER_BUDGETS if b not in budgets)}")
    models = set(df["strong_model"])
    gaps.append(
        f"strong model(s) {', '.join(sorted(models))} instead of the paper's Llama-3-8B; "
        f"weak model(s) {', '.join(sorted(set(df['weak_model'])))} instead of Qwen1.5-0.5B"
    )
    if df["seed"].nunique() < 2:
        gaps.append("one seed: no spread, so regimes cannot be decided")
    return gaps


def _answers(analysis: Analysis, weak_cost: float = 0.1) -> list[str]:
    """The plain-language answer at the top, per variant, from the accuracy surface."""
    parts = []
    for label in analysis.labels():
        if analysis.df.loc[analysis.df["label"] == label, "method"].iloc[0] == "icl":
            continue
        lines = analysis.answer_lines(label, weak_cost)
        if analysis.answers(label, weak_cost):
            parts.append(f"<p><b>{_esc(label)}</b>, weak labels at ${weak_cost:g}:</p><ul>")
            parts += [f"<li>{_esc(line)}</li>" for line in lines]
            parts.append("</ul>")
    if not parts:
        return []
    head = (
        "<h2>The answer</h2><p>What to buy at each budget. One model of accuracy over allocations "
        "(a Gaussian process on log label counts, fitted to every run and seed) gives every answer "
        "below: the regime is where the accuracy peak lies along the budget line (all weak, a mix, "
        f"all HQ), decided where the posterior puts at least {DECIDE:.0%} of its probability there; "
        "the best buy is the best affordable allocation, with a 95% interval that includes the test "
        "set's own sampling error.</p>"
    )
    return [head, *parts]


def _weak_quality(records) -> list[str]:
    """One row per set of weak labels (its key): measured against the run's gold, not assumed."""
    rows = {}
    for r in records:
        q = r.weak_quality
        if q and r.weak_key not in rows:
            (tn, fp), (fn, tp) = q["confusion"]
            rows[r.weak_key] = {
                "weak labels": f"{r.weak_model} ({r.config.get('weak', {}).get('weak_n_train', '?')} texts)"
                if r.config.get("weak_labels", "trained") == "trained"
                else str(r.config.get("weak_labels")),
                "against": f"{q['against']} (n={q['n']})",
                "accuracy [95%]": f"{q['accuracy']:.3f} [{q['accuracy_lo']:.3f}, {q['accuracy_hi']:.3f}]",
                "calibration error [95%]": f"{q['ece']:.3f} [{q['ece_lo']:.3f}, {q['ece_hi']:.3f}]",
                "mean P(1)": f"{q['mean_p1']:.3f}",
                "gold 0: labeled 0 / 1": f"{tn} / {fp}",
                "gold 1: labeled 0 / 1": f"{fn} / {tp}",
                "bought once (outside budgets)": f"${r.weak_spent_once:g} of HQ demonstrations"
                if r.weak_spent_once
                else "",
            }
    if not rows:
        return []
    return [
        "<h2>The weak labels, measured</h2><p>Each set of weak labels against the gold the runs "
        "have: accuracy (Wilson interval), expected calibration error of P(1) over 10 bins "
        "(bootstrap interval; 0 is calibrated) and the confusion matrix.</p>",
        _table(pd.DataFrame(list(rows.values())).replace("", np.nan).dropna(axis=1, how="all").fillna("")),
    ]


def write_report(
    results: Path | str = "results", out: Path | str | None = None, notes: tuple[str, ...] = ()
) -> Path:
    results = Path(results)
    refuse_links(results)
    if results.is_file():
        raise UserError(f"the results path {results} is a file, not a folder", "pass --results with a folder")
    records = Store(results).records()
    if not records:
        raise UserError(f"no stored runs in {results}", "run `labelbudget sweep` or `labelbudget demo` first")
    out = _targets(results, Path(out) if out else results / "report.html")
    analysis = Analysis(records)
    df, pts = analysis.df, analysis.points
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>labelbudget report</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{padding:3px 8px;"
        "border-bottom:1px solid #ddd;text-align:right}img{max-width:100%}</style></head><body>",
        "<h1>labelbudget report</h1>",
        f"<p>{len(records)} runs from <code>{_esc(results)}</code>: tasks "
        f"{_esc(', '.join(sorted(df['task'].unique())))}; methods "
        f"{_esc(', '.join(sorted(df['label'].unique())))}; seeds {df['seed'].nunique()}. Raw records: "
        f"<code>{_esc(out.with_suffix('.csv').name)}</code>."
        " A point is a method variant at an allocation (n_weak, n_hq); accuracies are averaged over "
        "seeds, then tasks, and every allocation is re-costed at every weak-label price "
        "(cost = n_weak &times; c + n_hq), as the authors' analysis.</p>",
    ]
    parts += _answers(analysis)
    parts += _weak_quality(records)
    missing = pts.attrs.get("missing", [])
    skipped = unsupplied(results)
    if skipped:
        example = next(iter(skipped.values()))
        missing = [
            *missing,
            f"{len(skipped)} runs of the sweeps were skipped: the pool cannot supply them (e.g. {example})",
        ]
    parts.append(
        "<h2>What this report does not cover</h2><ul>"
        + "".join(f"<li>{_esc(g)}</li>" for g in (*notes, *coverage(df), *missing))
        + "</ul>"
    )
    compared = probe_vs_finetuning(pts)
    if not compared.empty:
        parts.append("<h2>Probe vs fine-tuning at the same allocations</h2>")
        parts.append(
            "<p>Each fine-tuned (LoRA) run beside the linear probe of the same method at the same "
            "allocation: how far the fast probe's answers carry over to full fine-tuning.</p>"
        )
        parts.append(_table(compared))
        ranks = rank_agreement(df)
        if not ranks.empty:
            parts.append(
                "<p>Do probes and LoRA rank these allocations alike? Kendall's tau between their "
                "seed-mean accuracies (and AUROCs) over the allocations both ran (1: the same order), "
                "with a 95% bootstrap interval over seeds:</p>"
            )
            parts.append(_table(ranks))
    parts.append("<h2>Table 1: best accuracy at cost &le; budget (weak fraction of labels)</h2>")
    parts.append(_table(table1(pts)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for cost in sorted(pts["weak_cost"].unique(), reverse=True):
            sub = pts[np.isclose(pts["weak_cost"], cost)]
            parts.append(f"<h2>Weak labels at ${cost:g}</h2>")
            parts.append("<h3>Accuracy vs cost, with the Pareto frontier (Figure 5)</h3>")
            parts.append(_img(cost_plot(pts, tmp / f"cost-{cost}.png", cost), f"cost-{cost}"))
            frontier = pareto_frontier(sub[sub["cost"] > 0])
            parts.append(
                _table(frontier[["label", "n_weak", "n_hq", "cost", "accuracy", "weak_fraction", "n_seeds"]])
            )
            for label in sorted(sub["label"].unique()):
                if sub[sub["label"] == label]["method"].iloc[0] == "icl":
                    continue
                found = analysis.answers(label, float(cost))
                if not any(a.measured_line for a in found):  # Figure 1 needs measured lines
                    continue
                parts.append(f"<h3>{_esc(label)}: accuracy vs weak share of the budget (Figure 1)</h3>")
                figure = weak_fraction_plot(pts, tmp / f"fig1-{len(parts)}.png", label, cost)
                parts.append(_img(figure, f"{label}: accuracy vs weak share"))
                parts.append(
                    f"<p>Regimes: where the accuracy peak lies along each budget line, with the "
                    f"posterior's probabilities (decided at {DECIDE:.0%}), and the best affordable buy:</p>"
                )
                parts.append(_table(pd.DataFrame([a.to_json() for a in found]).drop(columns=["variant"])))
            plans = []
            budgets = sorted(b for b in pts["run_budget"].unique() if b >= sub["cost"][sub["cost"] > 0].min())
            for b in sorted(
                {*budgets, *(math.sqrt(x * y) for x, y in zip(budgets, budgets[1:], strict=False))}
            ):
                try:
                    p = analysis.plan(float(round(b)), float(cost))
                except UserError as e:
                    plans.append({"budget": float(round(b)), "method": "-", "basis": e.problem})
                    continue
                row = p.to_json()
                runner = row.pop("runner_up", None)
                row["runner_up"] = (
                    "-"
                    if runner is None
                    else (
                        f"{runner['variant']} {runner['n_weak']} weak + {runner['n_hq']} HQ "
                        f"({runner['expected_accuracy']:.3f}, P best {runner['p_best']:.2f})"
                    )
                )
                row["basis"] = p.note
                plans.append(row)
            parts.append("<h3>Plan: recommended allocation per budget (all variants)</h3>")
            parts.append(_table(pd.DataFrame(plans)))
        if df["task"].nunique() > 1:
            parts.append("<h2>Per task</h2>")
            for i, (task, g) in enumerate(df.groupby("task")):
                parts.append(f"<h3>{_esc(task)}</h3>")
                per_task = recost(average(g), [0.1])
                title = task.replace("$", r"\$")  # a $ in a file name is not matplotlib's math
                parts.append(_img(cost_plot(per_task, tmp / f"task-{i}.png", 0.1, title=title), task))
    parts.append("<h2>All averaged points</h2>")
    parts.append(_table(pts.drop(columns=["strong_model", "weak_model", "config", "variant"])))
    parts.append("</body></html>")
    with atomic_path(out.with_suffix(".csv"), ".csv") as tmp:  # whole or not at all, never a link's
        guard_frame(pd.DataFrame([r.__dict__ for r in records])).to_csv(tmp, index=False)
    with atomic_path(out, ".html") as tmp:
        tmp.write_text("\n".join(parts), encoding="utf-8")
    return out


def _targets(results: Path, out: Path) -> Path:
    """The report's path, refused where writing it (or the CSV beside it) would replace
    something that is not a report: the store, a folder, or one file for both."""
    if out.suffix.lower() == ".csv":
        raise UserError(
            f"--out {out} names the CSV: the report is HTML, and its records go beside it as .csv",
            f"pass --out {out.with_suffix('.html')}",
        )
    store = (results / "labelbudget.sqlite").resolve()
    for path in (out, out.with_suffix(".csv")):
        if path.resolve() == store:
            raise UserError(f"--out {out} would write over the results store {store}", "pass another --out")
        if path.is_dir():
            raise UserError(f"--out {out} would write over the folder {path}", "pass a file name (.html)")
    return out
