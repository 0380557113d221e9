"""Sweeps: a run template plus a grid, expanded into run configs, run resumably.

    labelbudget sweep --preset demo
    labelbudget sweep grid.yaml            # {"template": {...RunConfig fields...}, "budgets": [...], ...}

Rerunning a sweep runs only what the store lacks: each record is one SQLite transaction keyed by
its config hash, so killing a sweep (even with SIGKILL) loses at most the run in flight and never
duplicates a row. Runs that share a weak stage train it once and branch from its saved state,
and a run that is another method's at its allocation (all-weak uncertainty sampling is all-weak
seq_sft, all-HQ logconf is all-HQ seq_sft: `MethodSpec.all_weak_is`) is trained once and stored
under both names.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labelbudget.config import RunConfig
from labelbudget.runs.claims import Claims
from labelbudget.runs.identity import run_identity, same_run
from labelbudget.runs.store import Store, record_unsupplied
from labelbudget.sweeps.executors import EXECUTORS, ExecutorOptions, Progress, Tally
from labelbudget.sweeps.grid import describe
from labelbudget.util.atomic import refuse_links
from labelbudget.util.errors import PoolTooSmall, UserError


@dataclass
class SweepReport:
    total: int
    already: int
    """Runs stored before this sweep started or, meanwhile, by another process."""
    ran: int
    """Runs this process trained and stored."""
    seconds: float
    skipped: int = 0
    """Runs whose allocation the task's pool cannot supply (with `skip_unsupplied`)."""
    busy: int = 0
    """Runs another process was training when this one reached them (left to it)."""
    copied: int = 0
    """Runs stored as another method's identical run (`runs.run.stored_twin`), not trained again."""
    held: int | None = None
    """The grid's runs the store holds at the end (fewer than counted where the results folder
    was removed or replaced during the sweep)."""

    @property
    def notes(self) -> tuple[str, ...]:
        notes = []  # runs skipped as unsupplied: in the results folder (`unsupplied`), for the report
        if self.busy:
            notes.append(
                f"{self.busy} runs were left to another process that was training them; rerun the "
                "sweep after it ends to confirm they are stored"
            )
        return tuple(notes)

    def summary(self, results: Path) -> str:
        if self.held is not None and self.held < self.already + self.ran + self.copied:
            return (
                f"sweep: the store in {results} holds {self.held} of the grid's {self.total} runs, "
                f"though this process counted {self.ran} done now and {self.already} stored: the "
                "results folder was removed or replaced during the sweep; rerun the sweep to redo "
                f"the missing ones ({self.seconds:.0f} s)"
            )
        return (
            f"sweep: {self.ran} runs done now by this process, {self.already} already stored, "
            + (f"{self.copied} stored as the same run under another method's name, " if self.copied else "")
            + f"{self.busy} left to another process running them, {self.skipped} skipped (pool too "
            f"small); {self.total} in all ({self.seconds:.0f} s); results in {results}"
        )


def pending(configs: list[RunConfig], results: Path) -> Iterator[RunConfig]:
    """The configs whose run (by identity, `runs.identity.run_identity`) the store lacks."""
    done = Store(results).run_keys()
    return (c for c in configs if run_identity(c) not in done)


def invalid(configs: list[RunConfig]) -> list[tuple[RunConfig, UserError]]:
    """The configs that `run.validate` refuses (no data or model is loaded), with why."""
    from labelbudget.runs.run import validate

    bad = []
    for cfg in configs:
        try:
            validate(cfg)
        except UserError as e:
            bad.append((cfg, e))
    return bad


def refuse_invalid(configs: list[RunConfig]) -> None:
    """One error naming every config the sweep would refuse, before anything runs."""
    from labelbudget.labels.sources import sources_for

    people = {id(c): [me for me, spec in sources_for(c) if spec.pauses] for c in configs}
    waiting = [c for c in configs if people[id(c)]]
    if waiting:
        who = people[id(waiting[0])][0]
        flag = (
            f"--oracle {waiting[0].oracle}"
            if not waiting[0].sources
            else f"--source {who.name}={who.spec}@{who.price:g}"
        )
        raise UserError(
            f"{len(waiting)} of the sweep's {len(configs)} runs take labels from a person "
            f"({flag}), and a sweep cannot stop to wait for one",
            "sweep in simulation (--oracle ground-truth) on labeled data, then run the allocation "
            "you choose with `labelbudget run --oracle file`",
        )
    _refuse(invalid(configs), len(configs))


def _refuse(bad: list[tuple[RunConfig, UserError]], total: int) -> None:
    """One error naming the first few configs refused (and how many), with the first one's fix."""
    if bad:
        listed = "; ".join(f"{describe(c)}: {e.problem}" for c, e in bad[:3])
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        problem = f"{len(bad)} of the sweep's {total} runs would be refused: {listed}{more}"
        raise UserError(problem, bad[0][1].fix)


def run_sweep(
    configs: list[RunConfig],
    results: Path | str = "results",
    executor: str = "local",
    ray_address: str | None = None,
    share_weak_stages: bool = True,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    skip_unsupplied: bool = False,
) -> SweepReport:
    """Run every config the store lacks. Every config is checked before anything runs; with
    `skip_unsupplied`, those whose allocation the pool cannot supply are skipped and counted
    instead of stopping the sweep."""
    from labelbudget.runs.run import check, stored_twin
    from labelbudget.util.progress import progress

    results = Path(results)
    start = time.perf_counter()
    refuse_links(results)
    store = Store(results)
    store.check()
    store.import_kept()
    todo = list(pending(configs, results))
    refuse_invalid(todo)  # bad input anywhere stops the sweep before it writes anything
    supplied, unsupplied = [], {}
    for cfg in todo:
        try:
            check(cfg)
        except PoolTooSmall as e:
            if not skip_unsupplied:
                raise PoolTooSmall(
                    e.problem, f"{e.fix}; or pass --skip-unsupplied to skip (and count) such runs"
                ) from None
            unsupplied[run_identity(cfg)] = e.problem
            continue
        supplied.append(cfg)
    skipped, todo = len(todo) - len(supplied), supplied
    if unsupplied:
        record_unsupplied(results, unsupplied)
    execute = EXECUTORS.get_or_fail(executor, f"use --executor with one of {', '.join(sorted(EXECUTORS))}")
    options = ExecutorOptions(ray_address, cpus_per_run, gpus_per_run)
    # runs the pool cannot supply are neither done nor to do: out of the bar (the report counts them)
    bar = progress(
        total=len(configs) - skipped,
        initial=len(configs) - skipped - len(todo),
        desc="sweep",
        unit="run",
        dynamic_ncols=True,
    )
    # a run that is another method's at its allocation (all-weak uncertainty sampling is all-weak
    # seq_sft) is trained once: stored under its own config once the other is stored
    keys = {run_identity(c) for c in todo} | set(store.run_keys())
    twins = [c for c in todo if (other := same_run(c)) is not None and run_identity(other) in keys]
    twin_ids = {id(c) for c in twins}
    first = [c for c in todo if id(c) not in twin_ids]
    tally, copied = Tally(), 0
    try:
        with Claims(store) as claims:
            progress_ = Progress(results, share_weak_stages, bar, claims, tally, options)
            execute(first, progress_)
            alone = []
            for c in twins:
                if stored_twin(c, store) is None:  # the other run failed or was left elsewhere
                    alone.append(c)
                else:
                    copied += 1
                    bar.update()
            if alone:
                execute(alone, progress_)
    finally:
        bar.close()
    return SweepReport(
        total=len(configs),
        already=len(configs) - len(todo) - skipped + tally.stored_elsewhere,
        ran=tally.ran,
        seconds=time.perf_counter() - start,
        skipped=skipped,
        busy=tally.busy,
        copied=copied,
        held=len(configs) - len(list(pending(configs, results))),
    )


def dry_run(configs: list[RunConfig], results: Path, skip_unsupplied: bool = False) -> int:
    """`sweep --dry-run`: every check the sweep makes before its first run, on every run it
    would do (the methods, the sources and their files, the models, and where the task's data
    is local (a file, the embedded task, --data-dir) the data and the pool); bad input is refused
    as the sweep refuses it. Then each run is listed stored, pending, or one the pool cannot
    supply; returns that count."""
    from labelbudget.models.backbone import check_model
    from labelbudget.runs.run import check
    from labelbudget.tasks.registry import TASKS, is_local

    refuse_invalid(configs)
    stored = Store(results).run_keys()
    rows, refused = [], []
    for cfg in configs:
        is_stored, local, why = run_identity(cfg) in stored, is_local(cfg.task), None
        try:
            if is_stored:
                pass
            elif local or TASKS.get(cfg.task.task) is None:  # a file, missing or not: read or refused
                check(cfg)
            else:  # the hub's data is not loaded here: the models are checked, the pool is not
                check_model(cfg.strong_model)
                check_model(cfg.weak.weak_model)
        except PoolTooSmall as e:
            why = e.problem
        except UserError as e:
            refused.append((cfg, e))
        rows.append((cfg, is_stored, local, why))
    _refuse(refused, len(configs))
    for cfg, is_stored, _, why in rows:
        state = "stored  " if is_stored else "cannot  " if why else "pending "
        print(state + describe(cfg) + (f": {why}" if why else ""))
    unsupplied = sum(why is not None for *_, why in rows)
    unchecked = sum(not local for _, _, local, _ in rows)
    line = f"{len(configs)} runs, {sum(row[1] for row in rows)} stored"
    if unsupplied:
        then = (
            "skipped and counted (--skip-unsupplied)"
            if skip_unsupplied
            else ("the sweep would stop at the first of them: pass --skip-unsupplied to skip and count them")
        )
        line += f", {unsupplied} that the pool cannot supply: {then}"
    if unchecked:
        line += f"; {unchecked} runs' pools not checked (their data is not local: the hub)"
    print(line)
    return unsupplied
