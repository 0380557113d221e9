"""labelbudget's command line: each subcommand is a dataclass whose `execute()` calls one library
function. Flags come from the config dataclasses' fields and docstrings (tyro).

    labelbudget run --budget 64 --weak-cost 0.1 --hq-fraction 0.5 --seed 0
    labelbudget weak --task tweet-sentiment
    labelbudget list
"""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from labelbudget.config import RunConfig, TaskConfig, WeakConfig
from labelbudget.errors import UserError
from labelbudget.labeling import LabelsNeeded

Flat = tyro.conf.OmitArgPrefixes


@dataclass(frozen=True)
class Run:
    """Run one budgeted elicitation (skipped if its config is already stored)."""

    config: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    results: Path = Path("results")
    """Folder holding the results store and cached artifacts (weak labels)."""
    json: bool = False
    """Print the stored record as one JSON line at the end."""
    labels_file: Path | None = None
    """With `--oracle file`: the CSV of requested examples, labeled by a person, to resume with."""

    def execute(self) -> None:
        from labelbudget.run import run

        record, ran = run(self.config, self.results, self.labels_file)
        print(summary(record, ran))
        if self.json:
            print(record.to_json())


@dataclass(frozen=True)
class Weak:
    """Train (or load) the weak labeler for a task and report its accuracy."""

    task: Annotated[TaskConfig, Flat] = field(default_factory=TaskConfig)
    weak: Annotated[WeakConfig, Flat] = field(default_factory=WeakConfig)
    results: Path = Path("results")
    """Folder holding cached artifacts (weak labels)."""

    def execute(self) -> None:
        from labelbudget.tasks import load_task
        from labelbudget.weak import weak_labels

        task = load_task(self.task)
        labels, notes = weak_labels(task, self.task, self.weak, self.results / "artifacts")
        for note in task.notes + notes:
            print(f"note: {note}")
        print(
            f"weak labels {labels.key} ({self.weak.weak_model} on {task.name}): "
            f"test accuracy {labels.test_accuracy:.3f}, validation accuracy "
            f"{labels.val_accuracy:.3f}; {len(labels.pool_probs)} pool + "
            f"{len(labels.test_probs)} test examples labeled"
        )


@dataclass(frozen=True)
class List:
    """List the registered tasks, methods and embedded models."""

    def execute(self) -> None:
        from labelbudget.methods import METHODS
        from labelbudget.models import EMBEDDED
        from labelbudget.tasks import TASKS

        for title, items in (
            ("tasks", {k: v.description for k, v in TASKS.items()}),
            ("methods", {k: v.description for k, v in METHODS.items()}),
            ("embedded models", {k: v.description for k, v in EMBEDDED.items()}),
        ):
            print(f"{title}:")
            for name, description in items.items():
                print(f"  {name:<18} {description}")
        print(
            "tasks may also be a path to a .csv, .tsv or .jsonl file (--text-column, "
            "--label-column, --label-map); models may be any Hugging Face id or local path"
        )


def summary(record, ran: bool) -> str:
    """A short human summary of a stored record."""
    head = "ran" if ran else "already stored, not run again:"
    lines = [
        f"{head} {record.method} on {record.task} with {record.strong_model} "
        f"(seed {record.seed}, config {record.config_hash})",
        f"  spent ${record.spent:g} of ${record.budget:g}: {record.n_weak} weak labels at "
        f"${record.weak_cost:g} + {record.n_hq} HQ labels",
        f"  test accuracy {record.accuracy:.3f} [{record.accuracy_lo:.3f}, {record.accuracy_hi:.3f}]"
        f"  AUROC {record.auroc:.3f} [{record.auroc_lo:.3f}, {record.auroc_hi:.3f}]"
        f"  (n={record.n_test}; weak labels: accuracy {record.weak_accuracy:.3f}"
        + ("" if record.weak_agreement is None else f", agreement {record.weak_agreement:.3f}")
        + ")",
    ]
    for stage in record.stages:
        lines.append(
            f"  {stage['name']} stage: {stage['n_train']} train + {stage['n_val']} val, "
            f"{stage['steps']}/{stage['total_steps']} steps"
            + (", stopped early" if stage["stopped_early"] else "")
            + (
                f", best val {stage['metric']} {stage['best_metric']:.3f} at step {stage['best_step']}"
                if stage["best_step"]
                else ""
            )
        )
    lines += [f"  note: {n}" for n in record.notes]
    lines.append(f"  {record.seconds:.0f} s on {record.device} ({record.dtype})")
    return "\n".join(lines)


Command = (
    Annotated[Run, tyro.conf.subcommand("run")]
    | Annotated[Weak, tyro.conf.subcommand("weak")]
    | Annotated[List, tyro.conf.subcommand("list")]
)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    for noisy in ("transformers", "peft", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        command = tyro.cli(Command, args=argv)
        command.execute()
    except UserError as e:
        print(f"labelbudget: error: {e}", file=sys.stderr)
        return 2
    except LabelsNeeded as e:
        print(f"labelbudget: waiting for labels: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
