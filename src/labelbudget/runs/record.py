"""A run's record: one flat row with what was asked, what was spent, what came out, and where
it came from (versions, commit, device, timings)."""

from __future__ import annotations

import base64
import dataclasses
import importlib.metadata
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labelbudget.labelspace import as_logits


@dataclass(frozen=True)
class Record:
    """Everything about one run: what was asked, what was spent, what came out, and provenance."""

    config_hash: str
    config: dict[str, Any]
    task: str
    method: str
    strong_model: str
    weak_model: str
    budget: float
    weak_cost: float
    hq_fraction: float
    seed: int
    n_weak: int
    n_hq: int
    spent: float
    """n_weak * weak_cost + n_hq, from the meters: never above the budget."""
    accuracy: float
    accuracy_lo: float
    accuracy_hi: float
    auroc: float
    auroc_lo: float
    auroc_hi: float
    weak_agreement: float | None
    n_test: int
    weak_accuracy: float
    """The weak labels' accuracy on the same test set."""
    weak_pool: str
    data_fingerprint: str
    weak_key: str
    stages: list[dict[str, Any]]
    notes: list[str]
    device: str
    dtype: str
    started_at: str
    seconds: float
    weak_seconds: float
    versions: dict[str, str]
    git_commit: str | None
    phases: list[dict[str, Any]] | None = None
    """Per phase of the run, in order: its name, seconds and peak resident memory in GB
    (`profiling.Phases`); None in records stored before labelbudget recorded them."""
    inputs: dict[str, str] | None = None
    """What the run read beyond its config (`runs.identity.inputs`: the task file's digest, the
    device kind and dtype); None in records stored before."""
    predictions: dict[str, Any] | None = None
    """The logits of every test example and its gold label (`encode_predictions`: two classes as
    the log-odds), so that any comparison can be paired and any metric recomputed; None in records
    stored before."""
    weak_quality: dict[str, Any] | None = None
    """The weak labels against the run's gold (`metrics.label_quality`: accuracy, calibration and
    confusion matrix with intervals, and which gold); None in records stored before."""
    source_accuracy: dict[str, float] | None = None
    """With more than two sources: the accuracy on the test split of the labels of each source
    before the last that labels every test text (the first's is `weak_accuracy`);
    None for the paper's pair (its one weak source is `weak_accuracy`) and in records stored before."""
    eval_spent: float | None = None
    """$ of HQ labels a person gave for the test set (a task without gold labels), outside the
    budget; None where the test set had gold labels (and in records stored before)."""
    weak_spent_once: float | None = None
    """$ of HQ labels the weak labeler itself bought, once per task for every run on it and
    outside the budget: a few-shot prompt's demonstrations (`labels.prompt`); None if none."""
    classes: list[str] | None = None
    """The task's classes in label-id order (`labelspace.LabelSpace.names`); None in records stored
    before K classes (two classes, 0 and 1)."""
    macro_f1: float | None = None
    calibration_error: float | None = None
    """Of the strong model's test probabilities (`metrics.calibration_error`)."""
    confusion: list[list[int]] | None = None
    """Test confusion matrix, rows gold, columns predicted; None in records stored before."""
    counts: dict[str, int] | None = None
    """Labels bought per source, in stage order (the paper's pair: `weak` and `hq`); None in
    records stored before several sources (read as the pair: `counts_of`)."""
    prices: dict[str, float] | None = None
    """$ per label of each source, as the run paid (None before: `weak_cost` and $1)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def encode_predictions(logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """A run's per-example test predictions, compactly: two classes as float32 log-odds and
    bit-packed gold labels (base64), as records have always stored them; K classes as float32
    (n, K) logits and one byte per gold label. Every comparison can be paired and every metric
    recomputed later."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim == 1 or logits.shape[1] == 2:
        scores = logits if logits.ndim == 1 else logits[:, 1] - logits[:, 0]
        return {
            "n": int(len(scores)),
            "log_odds": base64.b64encode(np.asarray(scores, "<f4").tobytes()).decode(),
            "labels": base64.b64encode(np.packbits(np.asarray(labels, bool)).tobytes()).decode(),
        }
    return {
        "n": int(len(logits)),
        "k": int(logits.shape[1]),
        "logits": base64.b64encode(np.asarray(logits, "<f4").tobytes()).decode(),
        "labels": base64.b64encode(np.asarray(labels, "<u2").tobytes()).decode(),
    }


def decode_predictions(data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """((n, K) logits, gold labels) of `encode_predictions` (two classes: [0, log-odds])."""
    n = int(data["n"])
    if "k" not in data:
        log_odds = np.frombuffer(base64.b64decode(data["log_odds"]), "<f4").copy()
        labels = np.unpackbits(np.frombuffer(base64.b64decode(data["labels"]), np.uint8))[:n]
        return as_logits(log_odds), labels.astype(np.int64)
    logits = np.frombuffer(base64.b64decode(data["logits"]), "<f4").reshape(n, int(data["k"])).copy()
    labels = np.frombuffer(base64.b64decode(data["labels"]), "<u2").astype(np.int64)
    return logits, labels


def counts_of(record) -> dict[str, int]:
    """A record's labels per source in stage order (one stored before several sources: the paper's
    pair). The order is its config's, not the dict's: a record read back from JSON written with
    sorted keys (a record kept aside when the store could not be written) has them alphabetical."""
    if not record.counts:
        return {"weak": record.n_weak, "hq": record.n_hq}
    return {name: record.counts[name] for name in _stage_names(record)}


def prices_of_record(record) -> dict[str, float]:
    if not record.prices:
        return {"weak": record.weak_cost, "hq": 1.0}
    return {name: record.prices[name] for name in _stage_names(record)}


def _stage_names(record) -> list[str]:
    from labelbudget.allocation import SourceConfig, stage_order

    sources = stage_order([SourceConfig.parse(s) for s in (record.config or {}).get("sources") or ()])
    names = [s.name for s in sources]
    return names if set(names) == set(record.counts) else list(record.counts)


VERSIONED = ("labelbudget", "torch", "transformers", "peft", "numpy", "scikit-learn")


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def bought(record) -> str:
    """What a run bought, per source at its price ("320 weak labels at $0.1 + 32 HQ labels")."""
    counts = counts_of(record)
    if tuple(counts) == ("weak", "hq"):
        return f"{record.n_weak} weak labels at ${record.weak_cost:g} + {record.n_hq} HQ labels"
    prices = record.prices or {}
    return " + ".join(
        f"{n} {name} labels at ${prices.get(name, float('nan')):g}" for name, n in counts.items()
    )


def weak_to_strong(record) -> str | None:
    """Whether the strong model beat the most accurate labels it learned from other than the last
    source's (the paper's pair: its weak labels; several sources: the best measured of those
    bought), on the same test texts, with a 95% interval of the difference (unpaired, so
    conservative); None where the run bought none of them or they were not measured."""
    counts = counts_of(record)
    cheapest = next(iter(counts))
    measured = record.source_accuracy or {cheapest: record.weak_accuracy}
    bought = {k: v for k, v in measured.items() if counts.get(k) and v is not None and v == v}
    acc, m = record.accuracy, record.n_test
    if not bought or not m:
        return None
    cheapest = max(bought, key=bought.get)
    weak = bought[cheapest]
    half = 1.96 * float(np.sqrt(acc * (1 - acc) / m + weak * (1 - weak) / m))
    what = "weak" if cheapest == "weak" else cheapest
    numbers = f"{acc:.3f} against {weak:.3f}, difference {acc - weak:+.3f} +- {half:.3f} (95%)"
    if acc - weak > half:
        return f"the strong model beats its {what} labels: {numbers}"
    if acc - weak < -half:
        return (
            f"the strong model does NOT beat its {what} labels: {numbers}; at this allocation the "
            f"{what} labels alone are the better classifier: buying more of them will not fix it, "
            "HQ labels or another allocation may (labelbudget plan)"
        )
    return (
        f"the strong model does not clearly beat its {what} labels: {numbers}; at this allocation "
        "it adds little to them"
    )


def _labels_measured(record) -> str:
    """How accurate the labels a run learned from were on its test texts (the pair's weak labels,
    or each measured source), and how often the strong model agrees with the first source's."""
    agreement = record.weak_agreement
    if not record.source_accuracy:
        return f"weak labels: accuracy {record.weak_accuracy:.3f}" + (
            "" if agreement is None else f", agreement {agreement:.3f}"
        )
    out = "labels' accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in record.source_accuracy.items())
    return out + (
        "" if agreement is None else f"; agreement with {next(iter(record.source_accuracy))} {agreement:.3f}"
    )


def summary(record, ran: bool) -> str:
    """A short human summary of a stored record."""
    head = "ran" if ran else "already stored, not run again:"
    lines = [
        f"{head} {record.method} on {record.task} with {record.strong_model} "
        f"(seed {record.seed}, config {record.config_hash})",
        f"  spent ${record.spent:g} of ${record.budget:g}: {bought(record)}",
        f"  test accuracy {record.accuracy:.3f} [{record.accuracy_lo:.3f}, {record.accuracy_hi:.3f}]"
        f"  AUROC {record.auroc:.3f} [{record.auroc_lo:.3f}, {record.auroc_hi:.3f}]"
        + (f"  macro-F1 {record.macro_f1:.3f}" if record.classes and len(record.classes) > 2 else "")
        + f"  (n={record.n_test}; {_labels_measured(record)})",
    ]
    for stage in record.stages:
        lines.append(
            f"  {stage['name']} stage: {stage['n_train']} train + {stage['n_val']} val, "
            f"{stage['steps']}/{stage['total_steps']} steps"
            + (", stopped early" if stage["stopped_early"] else "")
            + f", {stage['seconds']:.0f} s"
            + (f" ({stage['eval_seconds']:.0f} s validating)" if stage.get("eval_seconds") else "")
            + (
                f", best val {stage['metric']} {stage['best_metric']:.3f} at step {stage['best_step']}"
                if stage["best_step"]
                else ""
            )
        )
    lines += [f"  note: {n}" for n in record.notes]
    if (verdict := weak_to_strong(record)) is not None:
        lines.append(f"  {verdict}")
    lines.append(f"  {record.seconds:.0f} s on {record.device} ({record.dtype})")
    if record.phases:
        top = max(record.phases, key=lambda row: row["peak_rss_gb"])
        lines[-1] += ": " + ", ".join(f"{row['phase']} {row['seconds']:.0f} s" for row in record.phases)
        lines[-1] += f"; peak memory {top['peak_rss_gb']:.1f} GB ({top['phase']})"
    return "\n".join(lines)
