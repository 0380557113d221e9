"""labelbudget: spend a labeling budget on weak and high-quality labels to elicit the most
accurate classifier from a pretrained language model (Mallen & Belrose, 2024).

    from labelbudget import Analysis, RunConfig, Store, run, table1
    record, ran = run(RunConfig(budget=64, weak_cost=0.1, hq_fraction=0.5), "results")
    analysis = Analysis(Store("results").records())
    print(table1(analysis.points), analysis.plan(budget=100, weak_cost=0.1).best)

The package follows the pipeline, one folder per stage: `tasks` -> `labels` -> `models` ->
`learners` -> `training` -> `methods` -> `runs` -> `sweeps` -> `analysis`. Everything below is
imported on first use, so `import labelbudget` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "RunConfig": "labelbudget.config",
    "TaskConfig": "labelbudget.config",
    "WeakConfig": "labelbudget.config",
    "TrainConfig": "labelbudget.config",
    "MethodOptions": "labelbudget.config",
    "ProbeConfig": "labelbudget.config",
    "UserError": "labelbudget.util.errors",
    "run": "labelbudget.runs.run",
    "compute": "labelbudget.runs.run",
    "Record": "labelbudget.runs.record",
    "Store": "labelbudget.runs.store",
    "Grid": "labelbudget.sweeps.grid",
    "expand": "labelbudget.sweeps.grid",
    "sweep": "labelbudget.sweeps.sweep",
    "read_sweep": "labelbudget.sweeps.files",
    "PRESETS": "labelbudget.sweeps.presets",
    "points": "labelbudget.analysis.points",
    "table1": "labelbudget.analysis.tables",
    "pareto_frontier": "labelbudget.analysis.tables",
    "Analysis": "labelbudget.analysis.answers",
    "regime": "labelbudget.analysis.regimes",
    "plan": "labelbudget.analysis.plan",
    "write_report": "labelbudget.analysis.report",
    "register_task": "labelbudget.tasks.registry",
    "register_source": "labelbudget.labels.sources",
    "register_learner": "labelbudget.learners.base",
    "register_method": "labelbudget.methods.base",
    "register_executor": "labelbudget.sweeps.executors",
}
_RENAMED = {"sweep": "run_sweep"}
"""Public names whose definition has another name in its module."""

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'labelbudget' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
