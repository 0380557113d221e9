"""The subcommands: each a dataclass whose `execute()` calls one library function and prints
its result. Flags come from the config dataclasses' fields and docstrings (tyro); `__main__`
makes them one command line."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from labelbudget.config import RunConfig, TaskConfig, WeakConfig
from labelbudget.labels.person import LabelsNeeded
from labelbudget.sweeps.grid import Grid
from labelbudget.util.errors import UserError, of_the_machine
from labelbudget.util.progress import quiet_libraries

Flat = tyro.conf.OmitArgPrefixes


@dataclass(frozen=True)
class Run:
    """Run one budgeted elicitation (skipped if its config is already stored)."""

    config: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    results: Path = Path("results")
    """Folder holding the results store and cached artifacts (weak labels)."""
    json: bool = False
    """Print the stored record as one JSON line at the end."""
    labels_file: Annotated[tuple[tuple[Path, ...], ...], tyro.conf.UseAppendAction] = ()
    """With `--oracle file`: the files the run asked to label, labeled (CSV, or Label Studio's
    JSON export), to resume with: several after one flag, or one per flag."""
    save_model: Path | None = None
    """Save the trained classifier in this new folder (`labelbudget predict --model` reads it)."""

    @property
    def labels_files(self) -> list[Path]:
        """Every labels file given: `--labels-file A B --labels-file C` is A, B, C."""
        return [f for group in self.labels_file for f in group]

    def execute(self) -> None:
        from labelbudget.labels.sources import sources_for
        from labelbudget.runs.record import summary
        from labelbudget.runs.run import run

        if self.labels_file and not any(spec.pauses for _, spec in sources_for(self.config)):
            raise UserError(
                "--labels-file is read only when a person supplies labels",
                "add --oracle file (or a --source NAME=file@PRICE; the run then resumes from the "
                "labels in the file)",
            )
        record, ran = run(self.config, self.results, self.labels_files, save_model=self.save_model)
        print(summary(record, ran) + (f"\n  model saved in {self.save_model}" if self.save_model else ""))
        if self.json:
            print(record.to_json())


@dataclass(frozen=True)
class Predict:
    """Score new texts with a classifier a run saved (`run --save-model DIR`)."""

    model: Path
    """The folder `run --save-model` wrote."""
    input: Path
    """A CSV, TSV or JSONL file with the model's text column."""
    output: Path | None = None
    """Where to write the rows plus `p1` and `label_pred` (default: INPUT.predictions.EXT); not the
    input, nor inside the model folder."""

    def execute(self) -> None:
        from labelbudget.learners.saved import predict_rows

        done = predict_rows(self.model, self.input, self.output)
        blank = f"; {done.blank} rows without a text left unscored (no p1)" if done.blank else ""
        print(f"predictions: {done.path} ({done.rows - done.blank} of {done.rows} rows scored{blank})")


@dataclass(frozen=True)
class Weak:
    """Train (or load) the weak labeler for a task, or read the weak labels `--weak-labels` names,
    and report what they are worth against the task's gold test split."""

    task: Annotated[TaskConfig, Flat] = field(default_factory=TaskConfig)
    weak: Annotated[WeakConfig, Flat] = field(default_factory=WeakConfig)
    weak_labels: str = "trained"
    """The weak labels to measure: trained (the default), trained-shuffled, column:NAME,
    file:PATH or prompt:MODEL[:K] (`labelbudget list`)."""
    results: Path = Path("results")
    """Folder holding cached artifacts (weak labels)."""

    def execute(self) -> None:
        from labelbudget.labels.sources import measure
        from labelbudget.labels.trained import weak_labels
        from labelbudget.models.backbone import check_model
        from labelbudget.runs.store import Store
        from labelbudget.tasks import load_task
        from labelbudget.util.atomic import refuse_links

        refuse_links(self.results)
        Store(self.results).check()
        task = load_task(self.task)
        if self.weak_labels != "trained":  # any other source: measured against the gold test split
            config = RunConfig(task=self.task, weak=self.weak, weak_labels=self.weak_labels)
            print("\n".join(measure(config, task, self.results)))
            return
        check_model(self.weak.weak_model)
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
    """List the registered tasks, methods, learners, label sources, executors and embedded models."""

    def execute(self) -> None:
        from labelbudget.config import METHOD_ALIASES
        from labelbudget.labels import SOURCES
        from labelbudget.learners import LEARNERS
        from labelbudget.methods import METHODS
        from labelbudget.models.backbone import EMBEDDED
        from labelbudget.sweeps.executors import EXECUTORS
        from labelbudget.tasks import TASKS

        aliases = {k: f"= --method {m} --learner {learner}" for k, (m, learner) in METHOD_ALIASES.items()}
        for title, items in (
            ("tasks", {k: v.description for k, v in TASKS.items()}),
            ("methods", {k: v.description for k, v in METHODS.items()} | aliases),
            ("learners (--learner)", {k: v.description for k, v in LEARNERS.items()}),
            ("label sources (--weak-labels, --oracle)", {k: v.description for k, v in SOURCES.items()}),
            (
                "executors (sweep --executor)",
                {k: (v.__doc__ or k).split(".")[0] for k, v in EXECUTORS.items()},
            ),
            ("embedded models", {k: v.description for k, v in EMBEDDED.items()}),
        ):
            print(f"{title}:")
            for name, description in items.items():
                print(f"  {name:<18} {description}")
        print(
            "tasks may also be a path to a .csv, .tsv or .jsonl file (--text-column, "
            "--label-column, --label-map); models may be any Hugging Face id or local path"
        )


@dataclass(frozen=True)
class Sweep:
    """Run a grid of configs (resumable: only what the store lacks runs). The grid comes from a
    YAML/JSON file, a preset, or the flags below (the run flags set the template)."""

    file: Annotated[Path | None, tyro.conf.Positional] = None
    """A sweep file: `template:` (RunConfig fields, nested as in a record's config) + grid axes."""
    preset: Literal["paper", "demo"] | None = None
    """A built-in grid: `paper` (PROTOCOL's) or `demo` (minutes on a laptop CPU)."""
    template: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    grid: Annotated[Grid, Flat] = field(default_factory=Grid)
    results: Path = Path("results")
    """Folder holding the results store and cached artifacts."""
    executor: str = "local"
    """A registered executor: `local` (this process) or `ray` (Ray tasks; `pip install
    'labelbudget[ray]'`)."""
    ray_address: str | None = None
    """Address of a running Ray cluster (default: start a local one)."""
    cpus_per_run: float = 1.0
    """Ray: CPUs each run declares."""
    gpus_per_run: float = 0.0
    """Ray: GPUs each run declares."""
    share_weak_stages: bool = True
    """Train a weak stage once for all runs that share it, and branch from its saved state."""
    dry_run: bool = False
    """Only list the runs (and how many are already stored), checked as a sweep checks them, the
    pool too where the task's data is local."""
    skip_unsupplied: bool = False
    """Skip (and count) the runs whose allocation the pool cannot supply, instead of stopping."""
    adaptive: bool = False
    """Run only the grid's runs that decide its answer: a small design first, then batches where
    the regime at a budget is in doubt, until every budget is decided or --max-runs are stored."""
    max_runs: int | None = None
    """--adaptive: at most this many of the grid's runs (default: a quarter of the grid)."""
    batch: int = 8
    """--adaptive: runs per batch (a Ray cluster runs a batch in parallel)."""

    def configs(self) -> list[RunConfig]:
        from labelbudget.sweeps.files import sweep_configs

        return sweep_configs(self.file, self.preset, self.template, self.grid)

    def execute(self) -> None:
        from labelbudget.runs.store import Store
        from labelbudget.sweeps.executors import EXECUTORS
        from labelbudget.sweeps.files import refuse_unread
        from labelbudget.sweeps.sweep import dry_run, run_sweep

        fields = dataclasses.fields(self)
        refuse_unread({f.name: getattr(self, f.name) for f in fields}, {f.name: f.default for f in fields})
        EXECUTORS.get_or_fail(self.executor, f"use --executor with one of {', '.join(sorted(EXECUTORS))}")
        configs = self.configs()
        Store(self.results).check()
        if self.dry_run:  # every check a real sweep makes before its first run (data: if local)
            return dry_run(configs, self.results, self.skip_unsupplied)
        if self.adaptive:
            from labelbudget.sweeps.adaptive import adaptive_sweep, summary

            max_runs = self.max_runs if self.max_runs is not None else max(1, len(configs) // 4)
            options = dict(
                executor=self.executor, ray_address=self.ray_address, cpus_per_run=self.cpus_per_run
            )
            options.update(gpus_per_run=self.gpus_per_run, share_weak_stages=self.share_weak_stages)
            states = adaptive_sweep(configs, self.results, max_runs, self.batch, **options)
            return print(summary(states, self.results))
        report = run_sweep(
            configs,
            self.results,
            self.executor,
            self.ray_address,
            self.share_weak_stages,
            self.cpus_per_run,
            self.gpus_per_run,
            self.skip_unsupplied,
        )
        print(report.summary(self.results))


@dataclass(frozen=True)
class Plan:
    """Recommend a method and allocation (n_weak, n_hq) for a budget, from stored runs."""

    budget: float
    """The budget to plan for ($); may lie between measured budgets."""
    weak_cost: float = 0.1
    """The price of one weak label ($); any price works, every stored allocation is re-costed."""
    results: Path = Path("results")
    extrapolate: bool = False
    """Allow a budget outside the measured ones (the answer says how far it extrapolates)."""
    json: bool = False
    """Print the plan as one JSON object instead."""

    def execute(self) -> None:
        from labelbudget.analysis.answers import Analysis
        from labelbudget.runs.store import Store

        records = Store(self.results).records()
        if not records:
            raise UserError(
                f"no stored runs in {self.results} to plan from",
                "pass --results with a folder a sweep wrote, or run `labelbudget sweep` first",
            )
        p = Analysis(records).plan(
            self.budget, self.weak_cost, feasible=_refusal, extrapolate=self.extrapolate
        )
        if self.json:
            print(json.dumps(p.to_json()))
            return
        from labelbudget.runs.command import run_command

        b, pair = p.best, p.best.sources == ("weak", "hq")
        where = f" with weak labels at ${p.weak_cost:g}" if pair else ""
        print(
            f"for ${p.budget:g}{where}" + (" (EXTRAPOLATED beyond what was measured)" * p.extrapolated) + ":"
        )
        shares = "" if pair else " (" + ", ".join(f"{v:.0%} on {k}" for k, v in b.shares.items()) + ")"
        print(
            f"  buy {b.bought()}{shares} (${b.cost:.4g}) for {b.label}: expected accuracy "
            f"{b.expected_accuracy:.3f} [{b.lo:.3f}, {b.hi:.3f}] (95%), the best of {p.candidates} "
            f"affordable candidates with probability {p.p_best:.2f}"
        )
        print(f"  to run it: {run_command(b.config, b.counts, self.results)}")
        if p.runner_up is not None:
            r = p.runner_up
            print(
                f"  runner-up: {r.label} with {r.bought()}: {r.expected_accuracy:.3f} [{r.lo:.3f}, "
                f"{r.hi:.3f}], the best with probability {p.p_runner_up:.2f}"
            )
        print(f"  note: {p.note}")


def _refusal(config_json: str, counts) -> str | None:
    """Why `run` would refuse a planned allocation (its method, or the pool), or None."""
    from labelbudget.allocation import bought_by
    from labelbudget.config import run_config_from_json
    from labelbudget.runs.run import refusal

    return refusal(bought_by(run_config_from_json(config_json), counts))


@dataclass(frozen=True)
class Report:
    """Write the HTML report (tables, frontier, regimes, plans, plots) and the records as CSV."""

    results: Path = Path("results")
    out: Path | None = None
    """Where to write the HTML (default: RESULTS/report.html)."""
    json: bool = False
    """Print the answer instead: one JSON object per variant, task (or mean), weak cost and budget
    (regime, its three probabilities, decided, the recommended n_weak and n_hq, expected accuracy
    and its interval)."""

    def execute(self) -> None:
        if self.json:
            from labelbudget.analysis.answers import Analysis
            from labelbudget.runs.store import Store

            records = Store(self.results).records()
            if not records:
                raise UserError(f"no stored runs in {self.results}", "run `labelbudget sweep` first")
            for row in Analysis(records).json_lines((0.5, 0.1, 0.01)):
                print(json.dumps(row))
            return
        from labelbudget.analysis.report import write_report

        print(f"report: {write_report(self.results, self.out)}")


@dataclass(frozen=True)
class Demo:
    """The main job: a sweep on the embedded default with real models, ending in the report."""

    results: Path = Path("results/demo")
    executor: str = "local"
    lora: bool = False
    """Add real LoRA runs with the protocol's schedule (4 allocations x 3 seeds; about an hour on
    2 CPU cores) and whether probes and LoRA rank the allocations alike."""

    def execute(self) -> None:
        from labelbudget.analysis.report import write_report
        from labelbudget.sweeps.presets import NOTES, demo_configs
        from labelbudget.sweeps.sweep import run_sweep

        report = run_sweep(demo_configs(self.lora), self.results, self.executor, skip_unsupplied=True)
        print(f"report: {write_report(self.results, notes=(*NOTES, *report.notes))}")


def _unexpected(e: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(
        f"labelbudget: error: unexpected {type(e).__name__}: {' '.join(str(e).split())[:300]}\n"
        "  fix: this is a labelbudget bug; rerun with --debug and report the traceback it prints",
        file=sys.stderr,
    )
    return 1


def execute(parse, argv: list[str]) -> int:
    """Parse and execute one command line. Exit codes: 0 done, 2 bad input (one message naming
    the problem and the fix, nothing written), 3 waiting for human labels, 1 an unexpected error
    (a bug: `--debug` shows where), 130 interrupted. No traceback reaches the user without
    `--debug`."""
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    quiet_libraries()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    for noisy in ("transformers", "peft", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        parse(argv).execute()
    except UserError as e:
        if debug:
            traceback.print_exc()
        print(f"labelbudget: error: {e}", file=sys.stderr)
        return 2
    except LabelsNeeded as e:
        print(f"labelbudget: waiting for labels: {e}", file=sys.stderr)
        return 3
    except OSError as e:
        if not of_the_machine(e):
            return _unexpected(e, debug)
        if debug:
            traceback.print_exc()
        why = e.strerror or f"a write came up short ({e}): the disk is full"
        print(
            f"labelbudget: error: could not write {e.filename or 'a file'}: {why}; stored "
            "runs are intact (each is written whole or not at all)\n"
            "  fix: free disk space or fix the folder's permissions, then rerun: only the missing "
            "runs run",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("labelbudget: interrupted; stored runs are kept, rerun to continue", file=sys.stderr)
        return 130
    except Exception as e:
        return _unexpected(e, debug)
    return 0
