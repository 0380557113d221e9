"""The report's sections on labels and classes: the weak labels measured against gold, and for
K-class tasks (issue 37) the test set per class and the strong model's K-class metrics (macro-F1,
calibration error, the confusion matrix summarised as recall per class and the most frequent
confusion). Read from the records themselves: their `weak_quality`, `classes`, `macro_f1`,
`calibration_error` and `confusion` (rows gold, columns predicted)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from labelbudget.allocation import sources_of
from labelbudget.analysis.document import (
    Lines,
    accuracy,
    bought,
    count,
    esc,
    interval,
    money,
    percent,
    table,
)
from labelbudget.config import run_config_from_dict
from labelbudget.runs.record import Record, counts_of

K_MATRIX = 8
"""Up to this many classes the best allocation's whole confusion matrix is shown; beyond it, only
its summary (a wider table would not fit the page)."""


def recall_lines(confusion: np.ndarray, names) -> Lines:
    """Per gold class, the share of its texts given that class."""
    rows = confusion.sum(1)
    return Lines(
        f"{n} {c / r:.2f}" if r else f"{n} n/a"
        for n, c, r in zip(names, np.diag(confusion), rows, strict=True)
    )


def worst_confusion(confusion: np.ndarray, names) -> str:
    """The most frequent confusion, as the share of its gold class's texts."""
    rows = confusion.sum(1, keepdims=True).clip(min=1)
    off = confusion / rows
    np.fill_diagonal(off, 0)
    gold, given = np.unravel_index(int(off.argmax()), off.shape)
    if off[gold, given] == 0:
        return "none"
    return f"{names[gold]} taken for {names[given]}: {off[gold, given]:.0%} of {names[gold]}"


def weak_name(r: Record) -> str:
    """The weak labels as the run's config names them (the cheapest source of several)."""
    config = run_config_from_dict(r.config)
    first = sources_of(config)[0]
    if config.sources:
        return f"{first.name}: {first.spec} at {money(first.price)} a label"
    if config.weak_labels == "trained":
        return f"{r.weak_model} trained on {count(config.weak.weak_n_train)} texts"
    return config.weak_labels


def weak_labels_section(records: list[Record]) -> list[str]:
    """One row per set of weak labels (its key): measured against the run's gold, not assumed;
    a table per number of classes."""
    tables: dict[int, dict] = defaultdict(dict)
    for r in records:
        q = r.weak_quality
        if not q or r.weak_key in tables[len(q["confusion"])]:
            continue
        matrix = np.asarray(q["confusion"])
        names = r.classes or [str(c) for c in range(len(matrix))]
        row = {
            "weak labels": weak_name(r),
            "measured against": f"{q['against']} ({count(q['n'])} texts)",
            "accuracy [95%]": interval(q["accuracy"], q["accuracy_lo"], q["accuracy_hi"]),
            "calibration error [95%]": interval(q["ece"], q["ece_lo"], q["ece_hi"]),
        }
        if len(matrix) == 2:
            (tn, fp), (fn, tp) = matrix
            a, b = names
            row |= {
                f"mean P({b})": accuracy(q["mean_p1"]),
                f"gold {a}: labeled {a} / {b}": f"{count(tn)} / {count(fp)}",
                f"gold {b}: labeled {a} / {b}": f"{count(fn)} / {count(tp)}",
            }
        else:
            row |= {
                "mean P per class": Lines(f"{n} {p:.2f}" for n, p in zip(names, q["mean_p"], strict=True)),
                "right per class": recall_lines(matrix, names),
                "most often confused": worst_confusion(matrix, names),
            }
        row["bought once (outside budgets)"] = (
            f"{money(r.weak_spent_once)} of HQ demonstrations" if r.weak_spent_once else "-"
        )
        tables[len(matrix)][r.weak_key] = row
    if not any(tables.values()):
        return []
    out = [
        "<h2>The weak labels, measured</h2><p>Each set of weak labels against the gold the runs "
        "have: accuracy (Wilson interval), expected calibration error over 10 bins (bootstrap "
        "interval; 0 is calibrated; of P(positive class) with two classes, of the top label with "
        "more) and how each gold class was labeled.</p>"
    ]
    for k in sorted(tables):
        rows = list(tables[k].values())
        if len(tables) > 1:
            out.append(f"<p>{k} classes:</p>")
        if all(row["bought once (outside budgets)"] == "-" for row in rows):
            rows = [{c: v for c, v in row.items() if c != "bought once (outside budgets)"} for row in rows]
        out.append(table(rows))
    return out


def classes_section(records: list[Record], labels: list[str]) -> list[str]:
    """For K-class runs (K > 2): the test set per class, and per method and budget the best
    measured allocation's K-class metrics (averaged over seeds; the confusion summed over them)."""
    many = [(r, label) for r, label in zip(records, labels, strict=True) if r.classes and len(r.classes) > 2]
    if not many:
        return []
    sets = {}
    for r, _ in many:
        if r.confusion:
            per = [int(sum(row)) for row in r.confusion]
            sets.setdefault((r.task, tuple(r.classes), tuple(per)), None)
    out = [
        "<h2>The classes</h2><p>Runs on tasks of more than two classes. Their test sets, per class "
        "(accuracy is then top-1, and chance is the largest class's share):</p>",
        table(
            [
                {
                    "task": task,
                    "classes": len(names),
                    "test texts": count(sum(per)),
                    "per class": Lines(
                        f"{n} {count(c)} ({percent(c / sum(per))})" for n, c in zip(names, per, strict=True)
                    ),
                }
                for task, names, per in sets
            ]
        ),
    ]
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r, label in many:
        groups[(label, r.budget, tuple(counts_of(r).items()))].append(r)
    best: dict[tuple, tuple] = {}
    for (label, budget, counts), runs in groups.items():
        mean = float(np.mean([r.accuracy for r in runs]))
        if mean > best.get((label, budget), (-1,))[0]:
            best[(label, budget)] = (mean, counts, runs)
    rows = []
    for (label, budget), (mean, counts, runs) in sorted(best.items()):
        names = runs[0].classes
        matrices = [np.asarray(r.confusion) for r in runs if r.confusion]
        matrix = np.sum(matrices, axis=0) if matrices else None
        rows.append(
            {
                "method": label,
                "budget": money(budget),
                "best measured allocation": bought([c for _, c in counts], [s for s, _ in counts]),
                "seeds": len(runs),
                "accuracy": accuracy(mean),
                "macro-F1": _mean(r.macro_f1 for r in runs),
                "calibration error": _mean(r.calibration_error for r in runs),
                "right per class": "n/a" if matrix is None else recall_lines(matrix, names),
                "most often confused": "n/a" if matrix is None else worst_confusion(matrix, names),
            }
        )
    out += [
        "<p>At each budget, each method's best measured allocation: accuracy, macro-F1 (the mean "
        "of the classes' F1), calibration error (top-label, 10 bins; 0 is calibrated), the share "
        "of each gold class the model got right, and its most frequent confusion (over the "
        "seeds' test predictions):</p>",
        table(rows),
    ]
    out += _matrices(best)
    return out


def _matrices(best: dict) -> list[str]:
    """Per method, the whole confusion matrix of its best measured allocation over all budgets."""
    top: dict[str, tuple] = {}
    for (label, _), entry in best.items():
        if entry[0] > top.get(label, (-1,))[0]:
            top[label] = entry
    out = []
    for label, (mean, counts, runs) in sorted(top.items()):
        names = runs[0].classes
        matrices = [np.asarray(r.confusion) for r in runs if r.confusion]
        if not matrices or len(names) > K_MATRIX:
            continue
        matrix = np.sum(matrices, axis=0)
        shares = matrix / matrix.sum(1, keepdims=True).clip(min=1)
        out.append(
            f"<p>{esc(label)} with {esc(bought([c for _, c in counts], [s for s, _ in counts]))} "
            f"(accuracy {accuracy(mean)}): rows the gold class, columns the class predicted, as the "
            "share of the gold class's test texts.</p>"
        )
        out.append(
            table(
                [
                    {"gold \\ predicted": g, **{p: percent(shares[i, j]) for j, p in enumerate(names)}}
                    for i, g in enumerate(names)
                ]
            )
        )
    return out


def _mean(values) -> str:
    values = [v for v in values if v is not None]
    return accuracy(float(np.mean(values))) if values else "n/a"
