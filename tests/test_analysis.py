"""Analysis on hand-made records with known answers: averages, Table 1, the frontier, regimes,
plans, and the report."""

import math

import numpy as np
import pandas as pd
import pytest

from labelbudget.analysis import average, frame, pareto_frontier, plan, regimes, table1
from labelbudget.errors import UserError
from labelbudget.store import Record, Store


def record(
    method="seq_sft",
    task="t",
    budget=64.0,
    weak_cost=0.1,
    f=0.5,
    seed=0,
    accuracy=0.7,
    n_weak=None,
    n_hq=None,
    weak_accuracy=0.65,
):
    from labelbudget.budget import allocate

    alloc = allocate(budget, weak_cost, f)
    n_weak = alloc.n_weak if n_weak is None else n_weak
    n_hq = alloc.n_hq if n_hq is None else n_hq
    key = f"{method}-{task}-{budget}-{weak_cost}-{f}-{seed}"
    return Record(
        config_hash=key,
        config={},
        task=task,
        method=method,
        strong_model="s",
        weak_model="w",
        budget=budget,
        weak_cost=weak_cost,
        hq_fraction=f,
        seed=seed,
        n_weak=n_weak,
        n_hq=n_hq,
        spent=n_weak * weak_cost + n_hq,
        accuracy=accuracy,
        accuracy_lo=accuracy - 0.05,
        accuracy_hi=accuracy + 0.05,
        auroc=accuracy,
        auroc_lo=0,
        auroc_hi=1,
        weak_agreement=0.5,
        n_test=1000,
        weak_accuracy=weak_accuracy,
        weak_pool="clean",
        data_fingerprint="d",
        weak_key="k",
        stages=[],
        notes=[],
        device="cpu",
        dtype="float32",
        started_at=f"2026-01-01T00:00:{seed:02d}",
        seconds=1.0,
        weak_seconds=1.0,
        versions={},
        git_commit=None,
    )


def test_average_over_seeds_then_tasks():
    recs = [
        record(task="a", seed=0, accuracy=0.6),
        record(task="a", seed=1, accuracy=0.8),
        record(task="b", seed=0, accuracy=0.5),
        record(task="b", seed=1, accuracy=0.5),
    ]
    avg = average(frame(recs))
    (row,) = avg.to_dict("records")
    assert row["accuracy"] == pytest.approx(0.6)  # mean of task means 0.7 and 0.5
    assert row["task_std"] == pytest.approx(np.std([0.7, 0.5], ddof=1))
    assert row["seed_std"] == pytest.approx((np.std([0.6, 0.8], ddof=1) + 0) / 2)
    assert row["sem"] == pytest.approx(math.sqrt((np.std([0.6, 0.8], ddof=1) / math.sqrt(2)) ** 2) / 2)
    assert row["n_tasks"] == 2 and row["n_seeds"] == 2


def test_all_hq_runs_count_for_every_weak_cost():
    recs = [
        record(f=1.0, weak_cost=0.5, accuracy=0.8),
        record(f=0.0, weak_cost=0.1, accuracy=0.6),
        record(f=0.0, weak_cost=0.01, accuracy=0.65),
    ]
    df = frame(recs)
    assert sorted(df[df["n_weak"] == 0]["weak_cost"]) == [0.01, 0.1, 0.5]


def test_table1_best_accuracy_within_budget_with_its_weak_fraction():
    recs = [
        record(budget=16, f=0.0, accuracy=0.62),
        record(budget=16, f=1.0, accuracy=0.5),
        record(budget=64, f=0.0, accuracy=0.70),
        record(budget=64, f=0.5, accuracy=0.74),
        record(budget=256, f=0.4, accuracy=0.78),
    ]
    t = table1(average(frame(recs)), budgets=(5, 17, 65, 257))
    (row,) = t.to_dict("records")
    assert row["$5"] == "-"
    assert row["$17"] == "0.62 (1.00)"  # cost 16 <= 17, all weak
    # at $65: candidates cost 16, 16, 64 (0.70), 64 (0.74: 32 HQ + 320 weak, fraction 320/352)
    assert row["$65"] == f"0.74 ({320 / 352:.2f})"
    assert row["$257"].startswith("0.78")


def test_pareto_frontier_rule():
    pts = pd.DataFrame(
        {"cost": [10, 10.3, 20, 40, 41, 80, 160], "accuracy": [0.60, 0.61, 0.6015, 0.70, 0.72, 0.69, 0.75]}
    )
    kept = pareto_frontier(pts)
    # 10 (0.60) loses to 10.3 within 5%; 20 gains only 0.0005 over 0.61; 40 loses to 41 (within
    # 5%) ; 80 is worse than the best so far
    assert kept["cost"].tolist() == [10.3, 41, 160]


@pytest.mark.parametrize(
    ("accs", "expected"),
    [
        ({0.0: [0.70, 0.71], 0.5: [0.65, 0.66], 1.0: [0.55, 0.56]}, "quantity-dominant"),
        ({0.0: [0.60, 0.61], 0.5: [0.75, 0.76], 1.0: [0.65, 0.66]}, "mixed"),
        ({0.0: [0.60, 0.61], 0.5: [0.70, 0.71], 1.0: [0.80, 0.81]}, "quality-dominant"),
        ({0.0: [0.60, 0.70], 0.5: [0.64, 0.66], 1.0: [0.55, 0.75]}, "undetermined"),  # noise
    ],
)
def test_regimes(accs, expected):
    recs = [
        record(budget=256, f=f, seed=s, accuracy=a) for f, pair in accs.items() for s, a in enumerate(pair)
    ]
    (r,) = regimes(average(frame(recs)), "seq_sft", 0.1)
    assert r.regime == expected and r.decided == (expected != "undetermined")


def test_regime_with_one_seed_is_not_decided():
    recs = [record(budget=16, f=0.0, accuracy=0.7), record(budget=16, f=1.0, accuracy=0.5)]
    (r,) = regimes(average(frame(recs)), "seq_sft", 0.1)
    assert r.regime == "undetermined" and "one seed" in r.reason and r.best_fraction == 0.0


def test_plan_interpolates_in_log_budget():
    recs = []
    for seed in (0, 1):
        recs += [
            record(budget=64, f=0.0, seed=seed, accuracy=0.70 + seed * 0.01),
            record(budget=64, f=1.0, seed=seed, accuracy=0.60),
            record(budget=256, f=0.0, seed=seed, accuracy=0.74),
            record(budget=256, f=1.0, seed=seed, accuracy=0.80 + seed * 0.02),
        ]
    avg = average(frame(recs))
    p = plan(avg, 128, 0.1)  # halfway in log2 between 64 and 256
    # all-weak: 0.705 -> 0.74 gives 0.7225; all-HQ: 0.60 -> 0.81 gives 0.705
    assert (p.method, p.hq_fraction, p.n_weak, p.n_hq) == ("seq_sft", 0.0, 1280, 0)
    assert p.expected_accuracy == pytest.approx(0.7225)
    assert p.uncertainty == pytest.approx(0.5 * np.std([0.70, 0.71], ddof=1) / math.sqrt(2))
    assert "interpolated" in p.note and set(p.basis["budget"]) == {64, 256}
    high = plan(avg, 1024, 0.1)
    assert high.hq_fraction == 1.0 and high.n_hq == 1024 and "outside" in high.note
    with pytest.raises(UserError, match="no runs at weak cost 0.5"):
        plan(avg, 100, 0.5)


def test_report_renders_every_section(tmp_path):
    from labelbudget.report import write_report

    store = Store(tmp_path)
    for seed in (0, 1):
        for budget in (16, 64, 256):
            for f in (0.0, 0.5, 1.0):
                for method in ("seq_sft", "uncertainty"):
                    acc = 0.55 + 0.05 * math.log2(budget) / 2 + (0.02 if f == 0.5 else 0) + 0.01 * seed
                    store.add(record(method=method, budget=budget, f=f, seed=seed, accuracy=acc))
    out = write_report(tmp_path, notes=("a note about scale",))
    page = out.read_text()
    for section in (
        "What this report does not cover",
        "a note about scale",
        "Table 1",
        "Pareto frontier",
        "Figure 1",
        "Regimes",
        "Plan: recommended allocation",
        "All averaged points",
        "data:image/png;base64,",
        "methods not run: prompted_seq_sft, logconf, icl",
    ):
        assert section in page, section
    assert page.count("<img") == 3  # frontier + one Figure 1 per method
    assert len(pd.read_csv(out.with_suffix(".csv"))) == 36


def test_plan_and_report_commands(tmp_path, capsys):
    from labelbudget.__main__ import main

    store = Store(tmp_path)
    for seed in (0, 1):
        store.add(record(budget=64, f=0.0, seed=seed, accuracy=0.70 + 0.01 * seed))
        store.add(record(budget=256, f=1.0, seed=seed, accuracy=0.80))
        store.add(record(budget=256, f=0.0, seed=seed, accuracy=0.72))
        store.add(record(budget=64, f=1.0, seed=seed, accuracy=0.55))
    assert main(["plan", "--budget", "64", "--weak-cost", "0.1", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "seq_sft with 640 weak + 0 HQ labels" in out and "expected accuracy 0.705" in out
    assert main(["report", "--results", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.csv").exists()
    assert main(["plan", "--budget", "64", "--weak-cost", "0.5", "--results", str(tmp_path)]) == 2
    assert "no runs at weak cost 0.5" in capsys.readouterr().err
