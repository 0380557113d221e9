"""One budgeted run end to end with tiny models: accounting, disjointness, the store."""

import dataclasses

import numpy as np
import pytest

from labelbudget.labels.budget import allocate
from labelbudget.labels.trained import weak_split
from labelbudget.methods.seq_sft import SequentialSFT
from labelbudget.runs.identity import stored_hash
from labelbudget.runs.run import run
from labelbudget.runs.store import Store
from labelbudget.tasks import load_task


def test_run_spends_exactly_its_allocation_on_disjoint_examples(tiny_config, tmp_path, spy):
    record, ran = run(tiny_config, tmp_path)
    assert ran
    alloc = allocate(8, 0.1, 0.5)  # 4 HQ + 40 weak
    assert (record.n_weak, record.n_hq) == (alloc.n_weak, alloc.n_hq) == (40, 4)
    assert record.spent == pytest.approx(8.0) and record.spent <= record.budget
    weak_ids, hq_ids = np.concatenate(spy["weak"]), np.concatenate(spy["hq"])
    assert len(set(weak_ids)) == 40 and len(set(hq_ids)) == 4
    assert not set(weak_ids) & set(hq_ids)
    task = load_task(tiny_config.task)
    weak_model_ids = weak_split(task, tiny_config.weak, 0).used_ids
    assert not (set(weak_ids) | set(hq_ids)) & set(weak_model_ids)  # clean pool by default
    stages = {s["name"]: s for s in record.stages}
    assert (stages["weak"]["n_train"], stages["weak"]["n_val"]) == (32, 8)  # val is paid for
    assert (stages["hq"]["n_train"], stages["hq"]["n_val"]) == (2, 2)
    assert 0 <= record.auroc <= 1 and record.n_test == 40
    assert record.config_hash == stored_hash(tiny_config)
    assert record.versions["torch"] and record.data_fingerprint == task.fingerprint
    # where the time and memory went, phase by phase, stored with the record
    phases = ["data and checks", "weak labels", "strong model load", "weak stage", "hq stage", "test scoring"]
    assert [p["phase"] for p in record.phases] == phases
    assert all(p["seconds"] >= 0 and 0.05 < p["peak_rss_gb"] < 64 for p in record.phases), record.phases
    assert sum(p["seconds"] for p in record.phases) <= record.seconds
    assert 0 < stages["weak"]["eval_seconds"] < stages["weak"]["seconds"]
    assert Store(tmp_path).records() == [record]  # phases in order, through JSON


def test_paper_pool_may_reuse_weak_model_examples(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, weak=dataclasses.replace(tiny_config.weak, weak_pool="paper"))
    record, _ = run(cfg, tmp_path)
    assert record.weak_pool == "paper"
    clean, _ = run(tiny_config, tmp_path)
    assert clean.weak_key == record.weak_key  # the same weak labels serve both pools


def test_empty_stage_is_skipped(tiny_config, tmp_path):
    record, _ = run(dataclasses.replace(tiny_config, hq_fraction=0.0), tmp_path)
    assert [s["name"] for s in record.stages] == ["weak"] and record.n_hq == 0
    assert record.n_weak == 80


def test_store_skips_a_complete_config(tiny_config, tmp_path, monkeypatch):
    first, ran = run(tiny_config, tmp_path)
    assert ran

    def fail(*args, **kwargs):
        raise AssertionError("a stored config must not be run again")

    monkeypatch.setattr(SequentialSFT, "fit", fail)
    again, ran = run(tiny_config, tmp_path)
    assert not ran and again == first
    assert len(Store(tmp_path).records()) == 1
    assert Store(tmp_path).add(first) is False  # the primary key refuses a duplicate
    assert len(Store(tmp_path).records()) == 1


def test_a_run_that_dies_leaves_no_row(tiny_config, tmp_path, monkeypatch):
    def die(self, texts):
        raise KeyboardInterrupt

    monkeypatch.setattr(SequentialSFT, "score", die)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_config, tmp_path)
    assert Store(tmp_path).records() == []


def test_a_record_keeps_every_test_prediction(tiny_config, tmp_path):
    """Per-example test log-odds and gold labels, stored compactly: every metric can be
    recomputed and every comparison paired."""
    from labelbudget.metrics import evaluate
    from labelbudget.runs.record import decode_predictions

    record, _ = run(tiny_config, tmp_path)
    log_odds, labels = decode_predictions(Store(tmp_path).get(record.config_hash).predictions)
    assert len(log_odds) == len(labels) == record.n_test
    task = load_task(tiny_config.task)
    assert labels.tolist() == task.test.labels.tolist()
    again = evaluate(log_odds, labels, None)
    assert (again.accuracy, again.auroc) == (record.accuracy, record.auroc)


def test_a_run_says_whether_the_strong_model_beat_its_weak_labels():
    """Issue 39: every run's summary says, with the interval, when the strong model does not beat
    the labels it learned from (and not when it bought none of them)."""
    import dataclasses

    from conftest import make_record

    from labelbudget.runs.record import summary

    def said(accuracy, weak, f=0.5, n=400):
        r = dataclasses.replace(make_record(f=f, accuracy=accuracy, weak_accuracy=weak), n_test=n)
        return summary(r, True)

    assert "the strong model beats its weak labels: 0.900 against 0.700" in said(0.9, 0.7)
    lost = said(0.75, 0.83)
    assert "does NOT beat its weak labels: 0.750 against 0.830, difference -0.080 +- 0.056 (95%)" in lost
    assert "HQ labels or another allocation may" in lost
    assert "does not clearly beat its weak labels" in said(0.72, 0.70)
    assert "beat" not in said(0.9, 0.7, f=1.0)  # all HQ: it learned from no weak label


def test_a_runs_summary_gives_the_labels_accuracy_it_learned_from():
    """The pair: its weak labels' accuracy and the strong model's agreement with them; several
    sources: each measured source's accuracy, and whose labels the agreement is with."""
    import dataclasses

    from conftest import make_record

    from labelbudget.runs.record import summary

    pair = dataclasses.replace(make_record(weak_accuracy=0.65), weak_agreement=0.8)
    assert "weak labels: accuracy 0.650, agreement 0.800)" in summary(pair, ran=True)
    several = dataclasses.replace(pair, source_accuracy={"llm": 0.61, "crowd": 0.72})
    text = summary(several, ran=True)
    assert "labels' accuracy: llm 0.610, crowd 0.720; agreement with llm 0.800)" in text
    assert "weak labels: accuracy" not in text
    assert "agreement" not in summary(dataclasses.replace(pair, weak_agreement=None), ran=True)
