"""Sweeps: grid expansion, resume after SIGKILL, shared weak stages, and the Ray executor."""

import collections
import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from labelbudget.config import to_dict
from labelbudget.labels.budget import allocation_of
from labelbudget.runs.identity import display_method, run_key, stored_hash
from labelbudget.runs.run import run
from labelbudget.runs.store import Store
from labelbudget.sweeps.files import read_sweep
from labelbudget.sweeps.grid import Grid, expand
from labelbudget.sweeps.presets import PAPER_SFT, PRESETS, demo_configs
from labelbudget.sweeps.sweep import pending, run_sweep
from labelbudget.training import stage as train_mod
from labelbudget.util.errors import UserError


def test_paper_preset_is_the_papers_grid_with_its_seeds():
    configs = PRESETS["paper"]()
    assert len({run_key(c) for c in configs}) == len(configs)  # no allocation run twice
    assert {c.task.task for c in configs} == {"hellaswag", "social_i_qa", "cosmos_qa"}
    sft = [c for c in configs if c.method != "icl"]
    assert {c.budget for c in sft if c.hq_fraction < 1} == {16, 64, 256, 1024, 4096}
    assert {c.budget for c in sft if c.hq_fraction == 1} == {16, 64, 256, 1024, 4096, 8192}
    assert {c.weak_cost for c in configs} == {0.1}  # re-costed at 0.5 and 0.01 in the analysis
    assert {c.hq_fraction for c in sft} == set(PAPER_SFT.hq_fractions)
    # 3 seeds; 7 where the smaller stage has <= 10 examples (PROTOCOL, the authors' seeds)
    seeds = collections.defaultdict(set)
    for c in configs:
        seeds[run_key(dataclasses.replace(c, seed=0))].add(c.seed)
    for c in configs:
        a = allocation_of(c)
        smaller = min(n for n in (a.n_weak, a.n_hq) if n)
        assert seeds[run_key(dataclasses.replace(c, seed=0))] == set(range(7 if smaller <= 10 else 3))
    # ICL: every label bought is a demonstration, as the authors' `cost_sweep_few_shot.py`
    shots = {(allocation_of(c).n_weak, allocation_of(c).n_hq) for c in configs if c.method == "icl"}
    assert shots == {(3, 0), (5, 0), (10, 0), (30, 0), (60, 0)} | {(0, n) for n in (3, 5, 10, 30, 50, 60)}
    assert len(configs) == 1623


def test_paper_preset_every_config_validates_and_dry_run_catches_a_refused_one(tmp_path, capsys):
    from labelbudget.__main__ import main
    from labelbudget.sweeps.sweep import invalid

    assert invalid(PRESETS["paper"]()) == []  # all-HQ prompted runs take HQ demonstrations
    assert main(["sweep", "--preset", "paper", "--dry-run", "--results", str(tmp_path)]) == 0
    assert "1623 runs, 0 stored" in capsys.readouterr().out
    # a refused config (a 2-label HQ stage) fails the dry run just as it would fail the sweep
    args = ["sweep", "--dry-run", "--results", str(tmp_path), "--budgets", "2", "--hq-fractions", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "would be refused" in err and "a stage needs at least 3" in err
    assert not (tmp_path / "labelbudget.sqlite").exists()


def test_recosting_and_deduplication_cut_the_paper_grid():
    """Runs identified by what they buy, and re-costed instead of rerun per weak cost: the
    paper's grid with its seeds names 4,440 fine-tuning configs at 3 weak costs (3,972 distinct
    allocations); run once at $0.10 and re-costed it is 1,452 runs."""
    from labelbudget.config import RunConfig
    from labelbudget.labels.budget import allocate
    from labelbudget.sweeps.grid import _points

    all_costs = dataclasses.replace(PAPER_SFT, weak_costs=(0.5, 0.1, 0.01))  # run, not re-costed
    named = sum(
        len(all_costs.seeds_for(allocate(b, c, f)))
        for _ in all_costs.tasks
        for m in all_costs.methods
        for b, c, f in _points(all_costs, m)
    )
    assert named == 4440
    assert len(expand(RunConfig(), all_costs)) == 3972
    assert len(expand(RunConfig(), PAPER_SFT)) == 1452


def test_no_two_runs_share_an_allocation_and_stored_allocations_are_not_rerun(tiny_config, tmp_path):
    grid = Grid(
        tasks=(tiny_config.task.task,),
        budgets=(8,),
        weak_costs=(0.1, 0.5),
        hq_fractions=(0.0, 0.05, 1.0),
        seeds=(0,),
    )
    configs = expand(tiny_config, grid)
    # $8 at f=0.05 buys 0 HQ (= all-weak); all-HQ buys 8 HQ at either weak cost
    assert sorted((allocation_of(c).n_weak, allocation_of(c).n_hq) for c in configs) == [
        (0, 8),
        (16, 0),
        (80, 0),
    ]
    all_hq = next(c for c in configs if allocation_of(c).n_weak == 0)
    run_sweep([all_hq], tmp_path)
    other_price = dataclasses.replace(all_hq, weak_cost=0.5 if all_hq.weak_cost == 0.1 else 0.1)
    report = run_sweep([other_price], tmp_path)
    assert report.ran == 0 and report.already == 1 and len(Store(tmp_path).records()) == 1


def test_demo_preset_is_the_papers_grid_on_gemma_probes_per_weak_labeler_plus_icl():
    from labelbudget.config import TrainConfig
    from labelbudget.sweeps.presets import PROBE_LAYER, SOURCES_POOL, THREE_SOURCES, WEAK_LABELERS

    configs = PRESETS["demo"]()
    assert configs == demo_configs()
    assert len({run_key(c) for c in configs}) == len(configs)
    methods = collections.Counter(display_method(c) for c in configs)
    # the binary grid per labeler (135 runs per method each), the three classes (two methods,
    # the better labeler) and three sources (probe_seq_sft over the simplex)
    assert methods == {
        "probe_seq_sft": 270 + 135 + 54,
        "probe_uncertainty": 270 + 135,
        "probe_logconf": 270,
        "icl": 1,
    }
    assert {c.strong_model for c in configs} == {"gemma-3-270m"} and {c.pooling for c in configs} == {"mean"}
    assert {c.probe.probe_layer for c in configs} == {PROBE_LAYER}
    probes = [
        c for c in configs if c.learner == "probe" and c.task.task == "tweet-sentiment" and not c.sources
    ]
    assert collections.Counter(c.weak.weak_n_train for c in probes) == {100: 405, 700: 405}
    assert {c.weak for c in probes} == set(WEAK_LABELERS)
    assert {c.budget for c in probes} == {16, 64, 256, 1024}
    assert {c.hq_fraction for c in probes} == set(PAPER_SFT.hq_fractions)
    assert {c.seed for c in probes} == set(range(5)) and {c.weak_cost for c in probes} == {0.1}
    three = [c for c in configs if c.task.task == "tweet-sentiment-3"]
    assert len(three) == 270 and {c.weak for c in three} == {WEAK_LABELERS[1]}
    several = [c for c in configs if c.sources]
    assert {c.sources for c in several} == {THREE_SOURCES} and {c.task.max_pool for c in several} == {
        SOURCES_POOL
    }
    assert {c.budget for c in several} == {16, 64} and {c.seed for c in several} == {0, 1, 2}
    assert len({c.shares for c in several if c.budget == 64}) == 10  # every point of the simplex design
    icl = [c for c in configs if c.method == "icl"]
    assert {(allocation_of(c).n_weak, allocation_of(c).n_hq) for c in icl} == {(0, 3)}
    # demo --lora: 4 allocations the probe grid has, 3 seeds, the protocol's schedule
    lora = [c for c in demo_configs(lora=True) if c.method == "seq_sft" and c.learner == "lora"]
    allocs = {(allocation_of(c).n_weak, allocation_of(c).n_hq) for c in lora}
    assert allocs == {(160, 0), (100, 6), (0, 16), (0, 64)} and len(lora) == 12
    assert {c.train for c in lora} == {TrainConfig()} and {c.weak for c in lora} == {WEAK_LABELERS[0]}
    probe_allocs = {(allocation_of(c).n_weak, allocation_of(c).n_hq) for c in probes}
    assert allocs <= probe_allocs


def test_expand_orders_runs_that_share_a_weak_stage_together(tiny_config):
    configs = expand(
        tiny_config,
        Grid(
            tasks=(tiny_config.task.task,),
            methods=("seq_sft", "uncertainty"),
            budgets=(8,),
            weak_costs=(0.1,),
            hq_fractions=(0.5,),
            seeds=(0, 1),
        ),
    )
    assert [(c.seed, c.method) for c in configs] == [
        (0, "seq_sft"),
        (0, "uncertainty"),
        (1, "seq_sft"),
        (1, "uncertainty"),
    ]


def test_sweep_file_and_its_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "template:\n  strong_model: minilm-l6\n  train: {example_visits: 100}\n"
        "methods: [seq_sft]\nbudgets: [16, 64]\nweak_costs: [0.1]\nhq_fractions: [0, 1]\n"
    )
    sweep = read_sweep(path)
    configs = expand(sweep.template, sweep.grid)
    assert len(configs) == 4 * 3 and {c.train.example_visits for c in configs} == {100}  # 3 seeds
    path.write_text("template: {}\nbudget: [16]\n")
    with pytest.raises(UserError, match="unknown keys \\['budget'\\]"):
        read_sweep(path)
    path.write_text("template: {stron_model: x}\n")
    with pytest.raises(UserError, match="unknown template field 'stron_model'"):
        read_sweep(path)


def small_grid(tiny_config):
    return Grid(
        tasks=(tiny_config.task.task,),
        methods=("seq_sft", "uncertainty"),
        budgets=(8,),
        weak_costs=(0.1,),
        hq_fractions=(0.0, 0.5),
        seeds=(0, 1),
    )


def comparable(record):
    """What must not depend on how a run was executed (timings and dates may)."""
    d = dataclasses.asdict(record)
    for key in ("seconds", "started_at", "weak_seconds", "phases"):
        d.pop(key)
    for stage in d["stages"]:
        stage.pop("seconds")
        stage.pop("eval_seconds")
    return d


def test_bad_config_in_a_sweep_stops_it_before_anything_runs(tiny_config, tmp_path):
    configs = expand(tiny_config, small_grid(tiny_config)) + [dataclasses.replace(tiny_config, budget=2)]
    with pytest.raises(UserError, match="a stage needs at least 3"):
        run_sweep(configs, tmp_path)
    assert Store(tmp_path).records() == []


def test_shared_weak_stages_equal_independent_runs(tiny_config, tmp_path, monkeypatch):
    configs = expand(tiny_config, small_grid(tiny_config))
    stages = []
    train_stage = train_mod.train_stage

    def counting(*args, **kwargs):
        stages.append(kwargs["name"])
        return train_stage(*args, **kwargs)

    monkeypatch.setattr("labelbudget.methods.seq_sft.train_stage", counting)
    run_sweep(configs, tmp_path / "shared", share_weak_stages=True)
    shared_weak = stages.count("weak")
    stages.clear()
    run_sweep(configs, tmp_path / "independent", share_weak_stages=False)
    # 8 runs; seq_sft and uncertainty share the weak stage at each (seed, fraction): 4 weak stages;
    # all-weak uncertainty is all-weak seq_sft, stored as its copy: 6 weak stages without sharing
    assert (shared_weak, stages.count("weak")) == (4, 6)
    shared = {r.config_hash: comparable(r) for r in Store(tmp_path / "shared").records()}
    independent = {r.config_hash: comparable(r) for r in Store(tmp_path / "independent").records()}
    assert len(shared) == 8 and shared == independent


def test_resume_after_sigkill_loses_nothing_and_duplicates_nothing(tiny_config, tmp_path):
    sweep_file = tmp_path / "sweep.json"
    template = to_dict(tiny_config)
    grid = {
        "tasks": [tiny_config.task.task],
        "methods": ["seq_sft"],
        "budgets": [8, 9, 10, 11, 12, 13],
        "weak_costs": [0.1],
        "hq_fractions": [0.5],
        "seeds": [0],
    }
    sweep_file.write_text(json.dumps({"template": template, **grid}))
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "labelbudget", "sweep", str(sweep_file), "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = results / "labelbudget.sqlite"
    deadline = time.time() + 240
    count = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db, timeout=30) as con:
                try:
                    count = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                except sqlite3.OperationalError:
                    count = 0
            if count >= 2:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "the sweep finished before it could be killed: make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {r.config_hash: r for r in Store(results).records()}
    assert 2 <= len(before) < 6
    sweep = read_sweep(sweep_file)
    configs = expand(sweep.template, sweep.grid)
    report = run_sweep(configs, results)
    assert report.already == len(before) and report.ran == 6 - len(before)
    after = {r.config_hash: r for r in Store(results).records()}
    assert set(after) == {stored_hash(c) for c in configs}
    assert all(after[k] == v for k, v in before.items())  # stored records untouched
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*), COUNT(DISTINCT config_hash) FROM runs").fetchone() == (6, 6)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_ray_executor_gives_the_same_records_as_local(tiny_config, tmp_path):
    ray = pytest.importorskip("ray")
    configs = expand(tiny_config, small_grid(tiny_config))[:4]
    run_sweep(configs, tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = run_sweep(configs, tmp_path / "ray", executor="ray")
    finally:
        ray.shutdown()
    assert (report.ran, report.copied) == (3, 1)  # all-weak uncertainty: all-weak seq_sft's copy
    local = {r.config_hash: comparable(r) for r in Store(tmp_path / "local").records()}
    remote = {r.config_hash: comparable(r) for r in Store(tmp_path / "ray").records()}
    # Ray runs each task with OMP_NUM_THREADS = its CPUs (1), this process uses 2 threads: sums are
    # reduced in another order, so floats may differ in the 7th digit; everything else is equal.
    assert remote == approx_tree(local)


def approx_tree(value):
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-5, abs=1e-6)
    if isinstance(value, dict):
        return {k: approx_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [approx_tree(v) for v in value]
    return value


def test_progress_reaches_a_log_file_as_plain_lines(tiny_config, tmp_path):
    """Off a terminal, every bar is a plain line with its count and ETA (here one per update:
    LABELBUDGET_PROGRESS_SECONDS=0), with no carriage returns, cursor escapes or library bars."""
    sweep_file = tmp_path / "sweep.json"
    grid = {"tasks": [tiny_config.task.task], "methods": ["seq_sft"], "budgets": [8, 9], "seeds": [0]}
    grid |= {"weak_costs": [0.1], "hq_fractions": [0.5]}
    sweep_file.write_text(json.dumps({"template": to_dict(tiny_config), **grid}))
    log = tmp_path / "sweep.log"
    env = {**os.environ, "LABELBUDGET_PROGRESS_SECONDS": "0"}
    with log.open("w") as out:
        cmd = [sys.executable, "-m", "labelbudget", "sweep", str(sweep_file), "--results", str(tmp_path)]
        assert subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode == 0
    text = log.read_text()
    assert "\r" not in text and "\x1b" not in text and "Loading weights" not in text
    lines = text.splitlines()
    assert any(line.startswith("sweep: 1/2 (50%)") and "ETA" in line for line in lines), text
    assert any(line.startswith("sweep: 2/2 (100%)") for line in lines), text
    assert any(line.startswith("weak stage: ") and "ETA" in line for line in lines), text


def test_progress_lines_wait_for_their_interval(capsys, monkeypatch):
    from labelbudget.util.progress import progress

    monkeypatch.delenv("LABELBUDGET_PROGRESS_SECONDS", raising=False)
    for _ in progress(range(50), desc="quick", disable=None):
        pass
    assert capsys.readouterr().err == ""  # shorter than the interval: nothing in the log
    monkeypatch.setenv("LABELBUDGET_PROGRESS_SECONDS", "0")
    bar = progress(total=3, desc="slow")
    for _ in range(3):
        bar.update()
    bar.close()
    assert capsys.readouterr().err.splitlines()[-1].startswith("slow: 3/3 (100%)")


def test_a_log_line_gives_no_eta_from_the_first_items(capsys, monkeypatch):
    """The demo's first run carried its one-off costs (136 s; the rest took 0.2 s each), and the log's
    first line read "ETA 23:22:42": a line says "ETA ?" until the bar has done `SETTLED` items."""
    from labelbudget.util.progress import SETTLED, progress

    monkeypatch.setenv("LABELBUDGET_PROGRESS_SECONDS", "0")
    bar = progress(total=100, desc="sweep", unit="run")
    for _ in range(SETTLED + 1):
        bar.update()
    lines = capsys.readouterr().err.splitlines()
    assert all("ETA ?" in line and "run/s" not in line for line in lines[: SETTLED - 1])
    assert "ETA ?" not in lines[-1] and "run/s" in lines[-1]
    bar.close()


def test_a_grid_the_pool_cannot_wholly_supply_is_caught_by_the_dry_run_and_skipped_on_request(
    tiny_config, tmp_path, capsys, monkeypatch
):
    """$64 all-weak buys 640 weak labels, more than the synthetic pool holds: the dry run (the
    data is local) names the run and why, the sweep stops naming method, budget and fraction and
    offers --skip-unsupplied, which skips and counts it."""
    from labelbudget.__main__ import main

    sweep_file = tmp_path / "sweep.json"
    grid = {"tasks": [tiny_config.task.task], "methods": ["seq_sft"], "budgets": [8, 64], "seeds": [0]}
    template = to_dict(dataclasses.replace(tiny_config, hq_fraction=0.0))  # one the grid holds
    sweep_file.write_text(json.dumps({"template": template, **grid, "hq_fractions": [0.0, 1.0]}))
    results = ["--results", str(tmp_path / "r")]
    assert main(["sweep", str(sweep_file), "--dry-run", *results]) == 0
    out = capsys.readouterr().out
    cannot = [line for line in out.splitlines() if line.startswith("cannot")]
    assert len(cannot) == 1 and "seq_sft at $64, HQ fraction 0, needs 640 weak" in cannot[0]
    assert "1 that the pool cannot supply" in out and "--skip-unsupplied" in out
    assert main(["sweep", str(sweep_file), *results]) == 2
    err = capsys.readouterr().err
    assert "seq_sft at $64, HQ fraction 0" in err and "--skip-unsupplied" in err
    assert not (tmp_path / "r" / "labelbudget.sqlite").exists() or not Store(tmp_path / "r").records()
    monkeypatch.setenv("LABELBUDGET_PROGRESS_SECONDS", "0")
    assert main(["sweep", str(sweep_file), "--skip-unsupplied", *results]) == 0
    captured = capsys.readouterr()
    assert "1 skipped" in captured.out
    # the skipped run is neither done nor to do: the bar counts 3 runs (it began at 1/4, "25%")
    assert "sweep: 3/3 (100%)" in captured.err and "/4 (" not in captured.err
    assert len(Store(tmp_path / "r").records()) == 3
    from labelbudget.analysis.report import write_report
    from labelbudget.runs.store import unsupplied

    (why,) = unsupplied(tmp_path / "r").values()  # kept for the report, which counts it
    assert "needs 640 weak" in why
    assert "1 runs of the sweeps were skipped" in write_report(tmp_path / "r").read_text()


def test_weak_label_sources_are_a_grid_axis():
    from labelbudget.config import RunConfig

    grid = Grid(budgets=(16,), hq_fractions=(0.0, 0.5), seeds=(0,), weak_sources=("trained", "column:llm_p1"))
    configs = expand(RunConfig(), grid)
    assert collections.Counter(c.weak_labels for c in configs) == {"trained": 2, "column:llm_p1": 2}
    assert len({run_key(c) for c in configs}) == 4  # a different source is a different run
    assert {c.weak_labels for c in expand(RunConfig(weak_labels="column:x"), Grid())} == {"column:x"}


@pytest.mark.parametrize("learner", ["probe", "lora"])
def test_methods_that_coincide_at_an_end_are_the_same_run_and_a_sweep_runs_it_once(
    tiny_config, tmp_path, monkeypatch, learner
):
    """All-weak uncertainty sampling is all-weak seq_sft and all-HQ logconf is all-HQ seq_sft,
    prediction for prediction (`MethodSpec.all_weak_is`, `all_hq_is`): computed apart they are
    equal, so a sweep trains each once and stores the other name as its copy (noted, its own
    config and cost); a lone `run` of the other name is served from the store; mixes still run."""
    from labelbudget.runs import run as run_mod
    from labelbudget.runs.run import compute

    base = dataclasses.replace(tiny_config, learner=learner)
    ends = {"uncertainty": 0.0, "logconf": 1.0}
    for method, f in ends.items():
        twin, seq = (dataclasses.replace(base, method=m, hq_fraction=f) for m in (method, "seq_sft"))
        a, b = compute(twin, tmp_path / "apart"), compute(seq, tmp_path / "apart")
        assert a.predictions == b.predictions and (a.n_weak, a.n_hq) == (b.n_weak, b.n_hq)

    computed = []
    real = run_mod.compute
    monkeypatch.setattr(run_mod, "compute", lambda c, *a, **k: computed.append(c.method) or real(c, *a, **k))
    configs = [
        dataclasses.replace(base, method=m, hq_fraction=f, weak_cost=0.1)
        for m in ("seq_sft", "uncertainty", "logconf")
        for f in (0.0, 1.0)
    ] + [dataclasses.replace(base, method="uncertainty", hq_fraction=0.5)]  # a mix: its own run
    report = run_sweep(configs, tmp_path / "sweep")
    assert sorted(computed) == ["logconf", "seq_sft", "seq_sft", "uncertainty", "uncertainty"]
    assert report.copied == 2 and "2 stored as the same run" in report.summary(tmp_path)
    records = {(r.config["method"], r.hq_fraction): r for r in Store(tmp_path / "sweep").records()}
    assert len(records) == 7
    for method, f in ends.items():
        copy, original = records[(method, f)], records[("seq_sft", f)]
        assert copy.predictions == original.predictions and copy.method == display_method(
            dataclasses.replace(base, method=method)
        )
        assert any(f"the same run as {original.method}'s" in n for n in copy.notes)
    assert list(pending(configs, tmp_path / "sweep")) == []

    computed.clear()  # a lone run of the other name at another price buying the same labels
    fresh = tmp_path / "lone"
    run(dataclasses.replace(base, method="seq_sft", hq_fraction=0.0), fresh)
    cheaper = dataclasses.replace(base, method="uncertainty", hq_fraction=0.0, budget=4, weak_cost=0.05)
    record, ran = run(cheaper, fresh)
    assert not ran and computed == ["seq_sft"] and record.config["method"] == "uncertainty"
    assert (record.budget, record.weak_cost, record.spent, record.n_weak) == (4, 0.05, 4.0, 80)
    assert len(Store(fresh).records()) == 2


# --- every flag and sweep-file field is used or refused ----------------------------------------


def test_a_sweep_sweeps_the_task_it_is_given_by_flag_or_file(tmp_path, capsys, synthetic_csv):
    """`--task my.csv` (and a sweep file's template task) is the swept task when no tasks axis is
    given; a tasks axis naming another task beside it is refused, not preferred."""
    from labelbudget.__main__ import main
    from labelbudget.cli import Sweep

    mine = str(synthetic_csv)
    flags = ["--task", mine, "--budgets", "8", "--hq-fractions", "0.5", "--seeds", "0", "--test-size", "40"]
    assert main(["sweep", *flags, "--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert f"seq_sft {mine} $8" in out and "tweet-sentiment" not in out, out
    path = tmp_path / "grid.yaml"
    path.write_text(f"template:\n  task: {{task: {mine}, test_size: 40}}\nbudgets: [8]\nseeds: [0]\n")
    assert {c.task.task for c in Sweep(file=path).configs()} == {mine}
    assert main(["sweep", *flags, "--tasks", "tweet-sentiment", "--dry-run"]) == 2
    assert "the run template's task is" in capsys.readouterr().err
    path.write_text(f"template:\n  task: {{task: {mine}}}\ntasks: [tweet-sentiment]\n")
    with pytest.raises(UserError, match="would be ignored"):
        read_sweep(path)


def test_a_template_value_the_grid_would_drop_is_refused(tmp_path):
    """A value an axis replaces is refused unless the axis holds it (then it is used): a
    template copied from a record of the same grid passes."""
    path = tmp_path / "grid.yaml"
    path.write_text("template: {budget: 20}\nbudgets: [16, 64]\n")
    with pytest.raises(UserError, match="the run template's budget is 20 .* budgets \\[16, 64\\]"):
        read_sweep(path)
    path.write_text("template: {budget: 16, seed: 2}\nbudgets: [16, 64]\n")
    assert {c.budget for c in expand(read_sweep(path).template, read_sweep(path).grid)} == {16, 64}
    path.write_text("template: {weak_labels: 'column:p'}\nweak_sources: [trained]\n")
    with pytest.raises(UserError, match="weak_labels is 'column:p'"):
        read_sweep(path)


def test_budgets_in_exponent_notation_read_as_numbers(tmp_path):
    """PyYAML (YAML 1.1) reads 1e3 as the string '1e3'; people mean 1000."""
    path = tmp_path / "grid.yaml"
    path.write_text("budgets: [1e3, 2.5E2]\nweak_costs: [1e-1]\n")
    grid = read_sweep(path).grid
    assert grid.budgets == (1000.0, 250.0) and grid.weak_costs == (0.1,)


def test_the_dry_run_refuses_what_the_sweep_refuses_before_any_run(tmp_path, capsys, synthetic_csv):
    """The weak-label sources' own checks (a missing file, a column the task lacks), the task
    and the pool: the dry run says what the sweep would say, before listing anything."""
    from labelbudget.__main__ import main

    base = ["sweep", "--dry-run", "--task", str(synthetic_csv), "--test-size", "40", "--budgets", "8"]
    base += ["--seeds", "0", "--hq-fractions", "0.5", "--results", str(tmp_path / "r")]
    for extra, expected in (
        (["--weak-sources", "file:/nonexistent.csv"], "weak-label file /nonexistent.csv does not exist"),
        (["--weak-sources", "column:nope"], "has no weak-label column 'nope'"),
        (["--weak-labels", "column:nope"], "has no weak-label column 'nope'"),
        (["--label-map", "pos", "1", "neg", "0"], "--label-map names labels that"),
    ):
        assert main([*base, *extra]) == 2, extra
        captured = capsys.readouterr()
        assert expected in captured.err and "would be refused" in captured.err and captured.out == "", extra
    assert not (tmp_path / "r").exists()
