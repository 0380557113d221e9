"""One self-contained HTML report (plots embedded) from the results store, plus the raw records
as CSV next to it, written as a document a person reads (issue 39): a short "how to read this",
the answer in words, the plan with the commands that run it, Figure 1 with the fitted surface the
answer rests on, for three sources the surface over the simplex at each budget, the classes and
the weak labels measured, what the runs do not cover, then the paper's Table 1 and Pareto
frontier at every weak-label price, and every measured allocation.

Every string from data, configs or file names reaches the HTML through one function,
`document.esc`, tables included, so none is ever markup. Both files are written whole or not at
all, only inside the results folder (never through a link), and the CSV, made to be opened in a
spreadsheet, has its texts guarded against formulas."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.analysis.answers import Analysis
from labelbudget.analysis.document import STYLE, bullets, esc, money
from labelbudget.analysis.figures import Context, figure1, frontiers, per_task, ternary
from labelbudget.analysis.quality import classes_section, weak_labels_section
from labelbudget.analysis.regimes import DECIDE
from labelbudget.analysis.sections import plan_budgets, plan_table, points_table, probe_table, ranks_table
from labelbudget.analysis.tables import probe_vs_finetuning, rank_agreement
from labelbudget.runs.store import Store, unsupplied
from labelbudget.tasks.paper import TABLE1_TASKS
from labelbudget.util.atomic import atomic_path, refuse_links
from labelbudget.util.errors import UserError
from labelbudget.util.spreadsheet import guard_frame

PAPER_METHODS = ("seq_sft", "prompted_seq_sft", "logconf", "uncertainty", "icl")
PAPER_BUDGETS = (16, 64, 256, 1024, 4096, 8192)


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
        gaps.append(f"budgets not run: {', '.join(money(b) for b in PAPER_BUDGETS if b not in budgets)}")
    gap = f"strong model(s) {', '.join(sorted(set(df['strong_model'])))} instead of the paper's Llama-3-8B"
    trained = df["config"].map(lambda c: not json.loads(c).get("sources") and _weak_labels(c) == "trained")
    if trained.any():  # a weak model only where one trained the weak labels
        gap += (
            f"; weak model(s) {', '.join(sorted(set(df.loc[trained, 'weak_model'])))} instead of Qwen1.5-0.5B"
        )
    gaps.append(gap)
    if df["seed"].nunique() < 2:
        gaps.append("one seed: no spread, so regimes cannot be decided")
    return gaps


def _weak_labels(config_json: str) -> str:
    return json.loads(config_json).get("weak_labels", "trained")


def _how_to_read(pair: bool, several: bool, k_classes: bool) -> str:
    bought = [
        "weak labels at their price and HQ labels at $1 each" if pair else "",
        "labels from several sources, each at its own price" if several else "",
    ]
    items = [
        "A run trains the strong model on labels bought under a budget: "
        + " or ".join(b for b in bought if b)
        + ". An allocation is how many labels of each kind a run bought.",
        "Every answer comes from one fitted model of accuracy over allocations (a Gaussian process "
        "on the log of each label count, fitted to every run and seed). An expected accuracy "
        "written 0.712 [0.68, 0.74] is what that allocation is expected to reach on new data, with "
        "its 95% interval.",
        "P(best) is the probability that an allocation beats every other affordable one. Along a "
        "budget, the regime (where the best split lies) is decided once its probability reaches "
        f"{DECIDE:.0%}; below that the report gives the probabilities instead.",
        "'measured' means runs exist at exactly that allocation; 'not run: extrapolated 0.60 "
        "decades' means predicted, a factor 10^0.6 (about 4) in label counts from the nearest run: "
        "trust it less.",
        "Figure 1 draws the fitted model (lines, 95% bands) over the runs (dots: mean over seeds, "
        "± standard error). Where they part, the answer rests on the model more than on runs."
        + (" With three sources, a triangle per budget shows the model over every split." if several else ""),
        "Accuracies are averaged over seeds, then tasks."
        + (
            " An allocation's accuracy does not depend on the prices, so every run is also re-costed "
            "at the paper's other weak-label prices (its analysis): the sections after the plan show "
            "what the same runs say there."
            if pair
            else ""
        ),
    ]
    if k_classes:
        items.append(
            "Tasks of more than two classes: accuracy is top-1; macro-F1 is the mean of the "
            "classes' F1; calibration error is top-label (0: calibrated)."
        )
    return '<div class="read"><h2>How to read this</h2>' + bullets(items) + "</div>"


def answer(ctx: Context) -> list[str]:
    parts = []
    for label in ctx.labels:
        for cost in ctx.costs_of(label):
            if not ctx.found(label, cost):
                continue
            lines = ctx.analysis.answer_lines(label, 0.1 if cost is None else cost)
            parts.append(f"<p><b>{esc(label)}</b>, {esc(ctx.where(label, cost))}:</p>")
            parts.append(bullets(lines, "answer"))
    if not parts:
        return []
    head = (
        "<h2>The answer</h2><p>What to buy at each budget each method was run at, from the "
        "fitted model: where the accuracy peak lies along the budget (decided at "
        f"{DECIDE:.0%}), and the best affordable buy with its 95% interval (which includes the "
        "test set's own sampling error).</p>"
    )
    return [head, *parts]


def plans(ctx: Context) -> list[str]:
    """The plan at the prices the runs were made at (at the pair's run prices, several sources
    at theirs), with the commands that run it."""
    out = ["<h2>The plan: what to buy at each budget</h2>"]
    costs = ctx.run_costs or [None]
    # variants of different tasks (two classes and three, say) are never compared: a plan per task
    tasks = ctx.df.groupby("label")["task"].agg(lambda t: ", ".join(sorted(set(t))))
    groups = {task: list(tasks.index[tasks == task]) for task in sorted(set(tasks))}
    for task, labels in groups.items():
        mine = ctx.pts[ctx.pts["label"].isin(labels)]
        on = f" on {esc(task)}" if len(groups) > 1 else ""
        several = any(ctx.analysis.several(label) for label in labels)
        for cost in costs if not all(ctx.analysis.several(label) for label in labels) else [None]:
            sub = mine[mine["weak_cost"].isna() if cost is None else np.isclose(mine["weak_cost"], cost)]
            if cost is None:
                out.append(f"<p>Over every method{on}, each source at its own price:</p>")
            else:
                out.append(
                    f"<p>Over every method{on}, weak labels at {esc(money(cost))}"
                    + (" (sources of several at their own prices)" if several else "")
                    + ":</p>"
                )
            budgets = plan_budgets(sub)
            out += plan_table(ctx.analysis, 0.1 if cost is None else cost, budgets, ctx.results, labels)
    return out


def probes(ctx: Context) -> list[str]:
    compared = probe_vs_finetuning(ctx.pts)
    if compared.empty:
        return []
    out = [
        "<h2>Probe vs fine-tuning at the same allocations</h2><p>Each fine-tuned (LoRA) run "
        "beside the linear probe of the same method at the same allocation: how far the fast "
        "probe's answers carry over to full fine-tuning.</p>",
        probe_table(compared),
    ]
    ranks = rank_agreement(ctx.df)
    if not ranks.empty:
        out.append(
            "<p>Do probes and LoRA rank these allocations alike? Kendall's tau between their "
            "seed-mean accuracies (and AUROCs) over the allocations both ran (1: the same order), "
            "with a 95% bootstrap interval over seeds:</p>"
        )
        out.append(ranks_table(ranks))
    return out


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
    k_classes = any(r.classes and len(r.classes) > 2 for r in records)
    missing = pts.attrs.get("missing", [])
    skipped = unsupplied(results)
    if skipped:
        example = next(iter(skipped.values()))
        missing = [
            *missing,
            f"{len(skipped)} runs of the sweeps were skipped: the pool cannot supply them (e.g. {example})",
        ]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(analysis, results, Path(tmp))
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>labelbudget report</title>"
            f"<style>{STYLE}</style></head><body>",
            "<h1>labelbudget report</h1>",
            f"<p>{len(records)} runs from <code>{esc(results)}</code>: tasks "
            f"{esc(', '.join(sorted(df['task'].unique())))}; methods "
            f"{esc('; '.join(sorted(df['label'].unique())))}; seeds {df['seed'].nunique()}. The raw "
            f"records are in <code>{esc(out.with_suffix('.csv').name)}</code> beside this file.</p>",
            _how_to_read(bool(ctx.run_costs), bool(ctx.several), k_classes),
            *answer(ctx),
            *plans(ctx),
            *figure1(ctx),
            *ternary(ctx),
            *classes_section(records, list(df["label"])),
            *weak_labels_section(records),
            "<h2>What this report does not cover</h2>" + bullets((*notes, *coverage(df), *missing)),
            *frontiers(ctx),
            *probes(ctx),
            *per_task(ctx),
            "<h2>Appendix: every measured allocation</h2><p>Each method's allocations as run, "
            "averaged over seeds and tasks (± the standard error over seeds).</p>",
            points_table(pts),
            "</body></html>",
        ]
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
