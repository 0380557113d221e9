"""Wall time of a small fixed sweep with and without weak-stage sharing, measured in one run.

    python benchmarks/bench_sweep.py
    python benchmarks/bench_sweep.py --smoke   # $16 only, tiny models and synthetic texts (seconds)

The grid: sequential SFT and uncertainty sampling (T = 0 and T = 1) at budgets $16 and $64, HQ
fractions 0.2 and 0.5, MiniLM-L6 strong and weak, on the embedded tweets. Runs at the same
(seed, n_weak) share their weak stage: 3 runs per weak stage. Weak labels are made once before
timing and copied into both results folders, so only the elicitation runs are timed. One JSON
line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


def configs(template: RunConfig = TEMPLATE, grid: Grid = GRID) -> list[RunConfig]:
    plain = expand(template, grid)
    tempered = [
        dataclasses.replace(c, options=dataclasses.replace(c.options, temperature=1.0))
        for c in plain
        if c.method == "uncertainty"
    ]
    return plain + tempered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="$16 only, tiny models and synthetic texts")
    args = parser.parse_args()
    template, grid, scratch = TEMPLATE, GRID, None
    if args.smoke:
        import _smoke

        template, scratch = _smoke.tiny(TEMPLATE), _smoke.folder()
        grid = dataclasses.replace(GRID, tasks=(template.task.task,), budgets=(16,))
    runs = configs(template, grid)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        tmp = Path(tmp)
        weak_labels(load_task(template.task), template.task, template.weak, tmp / "weak" / "artifacts")
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
    row = {
        "figure": "weak_stage_sharing",
        "model": template.strong_model,
        "runs": len(runs),
        "weak_stages": stages,  # 3 runs each
        "seconds_shared": round(seconds["shared"], 1),
        "seconds_independent": round(seconds["independent"], 1),
        "speedup": round(seconds["independent"] / seconds["shared"], 2),
        "identical_metrics": same,
    }
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
