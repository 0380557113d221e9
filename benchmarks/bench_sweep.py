"""Wall time of a small fixed sweep with and without weak-stage sharing, measured in one run.

    python benchmarks/bench_sweep.py

The grid: sequential SFT and uncertainty sampling (T = 0 and T = 1) at budgets $16 and $64, HQ
fractions 0.2 and 0.5, MiniLM-L6 strong and weak, on the embedded tweets. Runs at the same
(seed, n_weak) share their weak stage: 3 runs per weak stage. Weak labels are made once before
timing and copied into both results folders, so only the elicitation runs are timed.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from labelbudget.config import MethodOptions, RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.labels.trained import weak_labels
from labelbudget.runs.store import Store
from labelbudget.sweeps.grid import Grid, expand
from labelbudget.sweeps.sweep import run_sweep
from labelbudget.tasks import load_task

TEMPLATE = RunConfig(
    task=TaskConfig(test_size=500, max_pool=3000),
    weak=WeakConfig(weak_n_train=300, weak_n_val=100),
    train=TrainConfig(example_visits=2000),
    options=MethodOptions(max_candidates=500),
    strong_model="minilm-l6",
)
GRID = Grid(
    methods=("seq_sft", "uncertainty"),
    budgets=(16, 64),
    weak_costs=(0.1,),
    hq_fractions=(0.2, 0.5),
    seeds=(0,),
)


def configs() -> list[RunConfig]:
    plain = expand(TEMPLATE, GRID)
    tempered = [
        dataclasses.replace(c, options=dataclasses.replace(c.options, temperature=1.0))
        for c in plain
        if c.method == "uncertainty"
    ]
    return plain + tempered


def main() -> None:
    runs = configs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weak_labels(load_task(TEMPLATE.task), TEMPLATE.task, TEMPLATE.weak, tmp / "weak" / "artifacts")
        seconds = {}
        for name, share in (("shared", True), ("independent", False)):
            shutil.copytree(tmp / "weak", tmp / name)
            start = time.perf_counter()
            run_sweep(runs, tmp / name, share_weak_stages=share)
            seconds[name] = time.perf_counter() - start
        same = all(
            a.accuracy == b.accuracy and a.auroc == b.auroc
            for a, b in zip(
                sorted(Store(tmp / "shared").records(), key=lambda r: r.config_hash),
                sorted(Store(tmp / "independent").records(), key=lambda r: r.config_hash),
                strict=True,
            )
        )
    stages = len({(c.seed, c.budget, c.hq_fraction) for c in runs})
    print(f"\n{len(runs)} runs, {stages} distinct weak stages (3 runs each)")
    print(f"  with sharing      {seconds['shared']:.1f} s")
    print(f"  without sharing   {seconds['independent']:.1f} s")
    print(f"  speed-up          {seconds['independent'] / seconds['shared']:.2f}x")
    print(f"  identical metrics {same}")


if __name__ == "__main__":
    main()
