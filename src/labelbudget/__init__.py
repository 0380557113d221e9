"""labelbudget: spend a labeling budget on weak and high-quality labels to elicit the most
accurate classifier from a pretrained language model (Mallen & Belrose, 2024).

    from labelbudget import RunConfig, run
    record, ran = run(RunConfig(budget=64, weak_cost=0.1, hq_fraction=0.5), "results")
"""

from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.errors import UserError


def run(config: RunConfig, results="results"):
    """Run one budgeted elicitation (see `labelbudget.run.run`); imports torch lazily."""
    from labelbudget.run import run as _run

    return _run(config, results)


__all__ = ["RunConfig", "TaskConfig", "TrainConfig", "UserError", "WeakConfig", "run"]
