"""Every benchmark runs in the suite, through its `--smoke` mode: the benchmark's own code path end
to end on tiny models and synthetic texts (`benchmarks/_smoke.py`), seconds each, so that none
breaks unseen (issue 35: `bench_vs_trainer.py` had failed since a layout change). Every script in
benchmarks/ but the `_` helpers is run, so a new benchmark without `--smoke` fails here."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))

FIGURES = {
    "bench_adaptive.py": {"adaptive_curve", "adaptive_line", "uniform_seeds_baseline", "adaptive_summary"},
    "bench_icl.py": {"icl_scoring"},
    "bench_predict.py": {"predict_throughput"},
    "bench_probe.py": {
        "activation_extraction",
        "activation_cache",
        "probe_runs",
        "probe_grid_wall_time",
        "lora_step",
        "lora_grid_wall_time_estimate",
        "lora_over_probe_grid_time",
    },
    "bench_sweep.py": {"weak_stage_sharing"},
    "bench_train.py": {"run_phase", "lora_training"},
    "bench_vs_trainer.py": {"seconds_per_step", "speedup", "end_to_end_seconds"},
    "probe_choice.py": {"probe_choice_cv_accuracy", "probe_choice_best"},
    "surface_choice.py": {"surface_loao", "surface_loao_all"},
}
"""The figures each smoke run prints: one from every part of the benchmark, so that a smoke mode
that skips a part fails. A benchmark not listed must print at least one figure."""


def smoke(script: str, cwd: Path) -> subprocess.CompletedProcess:
    # one thread: tiny models gain nothing from more, and on a shared 2-core machine the threads of
    # a busy pool spin (the same smoke took 6 s with one thread and 35 s with two, next to a suite)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        capture_output=True,
        text=True,
        cwd=cwd,  # a benchmark's default results folder is relative: never the repository's
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory):
    """The selected benchmarks' smoke runs, all started at once and run two at a time (one thread
    each: a 2-core machine's two cores); each test waits for its own. Half the file's time, most of
    which is each process importing torch and transformers."""
    selected = [
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    pool = ThreadPoolExecutor(2)
    try:
        yield {script: pool.submit(smoke, script, tmp_path_factory.mktemp(script)) for script in selected}
    finally:
        pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke_runs_its_code_path_and_prints_json_figures(script, smoke_runs):
    done = smoke_runs[script].result()
    assert done.returncode == 0, done.stderr[-4000:]
    rows = []
    for line in done.stdout.splitlines():
        if line.lstrip().startswith(("{", "[")):  # what looks like JSON must be JSON
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                pytest.fail(f"{script} printed a line that looks like JSON but is not ({e}): {line[:200]}")
    assert rows, f"{script} --smoke printed no JSON line:\n{done.stdout[-2000:]}"
    printed = {row.get("figure") for row in rows if isinstance(row, dict)}
    assert FIGURES.get(script, set()) <= printed, f"{script}: missing {FIGURES[script] - printed}"
