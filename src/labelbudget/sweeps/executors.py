"""The executor seam: how a sweep's runs are carried out. `local` (here: one after another in
this process) and `ray` (`sweeps.ray`: Ray tasks with declared CPUs/GPUs) are registered; adding
one is one module and one `register_executor` line.

An executor gets the runs to do and a `Progress`: it claims each run before training it
(`Tally.claim`), computes its record (`runs.run.compute`, anywhere that sees the results folder),
and stores it through `Tally.stored`, which keeps the summary's counts true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelbudget.config import RunConfig
from labelbudget.runs.claims import Claims
from labelbudget.runs.store import Store
from labelbudget.sweeps.grid import describe
from labelbudget.util.registry import Registry


@dataclass(frozen=True)
class ExecutorOptions:
    ray_address: str | None = None
    """Address of a running Ray cluster (default: start a local one)."""
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0


@dataclass
class Tally:
    """What happened to the runs this process reached."""

    ran: int = 0
    stored_elsewhere: int = 0
    busy: int = 0

    def claim(self, claims: Claims, cfg: RunConfig, bar) -> bool:
        """Claim `cfg`'s run; False (counted, and said) if another process stored or holds it."""
        status = claims.take(cfg)
        if status == "stored":
            self.stored_elsewhere += 1
            bar.update()
        elif status == "busy":
            self.busy += 1
            bar.update()
            bar.write(f"  skipped: {describe(cfg)}: another process is training it")
        return status == "claimed"

    def stored(self, store: Store, claims: Claims, cfg: RunConfig, record, bar) -> None:
        added = store.add_or_keep(record)
        claims.release(cfg)
        if added:
            self.ran += 1
            _finished(bar, record)
        else:  # cannot happen while claims hold; said rather than counted twice
            self.stored_elsewhere += 1
            bar.update()
            bar.write(f"  discarded: {describe(cfg)}: another process stored it first")


def _finished(bar, record) -> None:
    bar.update()
    from labelbudget.runs.record import counts_of

    counts = counts_of(record)
    split = (
        f"c={record.weak_cost:g} f={record.hq_fraction:g}"
        if tuple(counts) == ("weak", "hq")
        else " + ".join(f"{n} {name}" for name, n in counts.items())
    )
    bar.write(
        f"  done: {record.method} {record.task} ${record.budget:g} {split} seed {record.seed}: "
        f"accuracy {record.accuracy:.3f} ({record.seconds:.0f} s) [{record.config_hash}]"
    )


@dataclass
class Progress:
    """What an executor reports to: the results folder, whether runs share weak stages, the
    progress bar, this process's claims, and the tally of what happened."""

    results: Path
    share: bool
    bar: Any
    claims: Claims
    tally: Tally
    options: ExecutorOptions

    def claim(self, cfg: RunConfig) -> bool:
        return self.tally.claim(self.claims, cfg, self.bar)

    def stored(self, cfg: RunConfig, record) -> None:
        self.tally.stored(self.claims.store, self.claims, cfg, record, self.bar)


Executor = Callable[[list[RunConfig], Progress], None]
EXECUTORS: Registry[Executor] = Registry("executor")


def register_executor(name: str, execute: Executor) -> Executor:
    return EXECUTORS.register(name, execute)


def run_local(todo: list[RunConfig], progress: Progress) -> None:
    """Every run in this process, in order (runs sharing a weak stage are adjacent)."""
    from labelbudget.runs.run import compute

    for cfg in todo:
        if not progress.claim(cfg):
            continue
        progress.bar.set_postfix_str(f"running {describe(cfg)}")
        try:
            record = compute(cfg, progress.results, share_weak_stages=progress.share)
        except BaseException:
            progress.claims.release(cfg)
            raise
        progress.stored(cfg, record)


register_executor("local", run_local)
