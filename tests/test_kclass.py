"""K classes end to end (issue 37): a 4-class toy task whose labels are class names, every method
and both learners, the weak labels from a trained 4-way labeler and from a column of class names,
the record's (n, K) predictions and K-class metrics, and a saved classifier's K probability
columns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.runs.record import decode_predictions
from labelbudget.runs.run import run

TOPICS = {
    "world": ["war", "election", "minister", "border", "treaty", "summit"],
    "sports": ["match", "goal", "league", "coach", "season", "score"],
    "business": ["stocks", "market", "profit", "merger", "bank", "shares"],
    "science": ["space", "cells", "physics", "robot", "genome", "laser"],
}
FILLER = ["the", "a", "today", "report", "says", "new", "big", "after", "week", "about", "more", "in"]


def headlines(n: int, seed: int = 0) -> pd.DataFrame:
    """Headlines whose topic is carried by one keyword; a noisy 'llm' column of class names."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        topic = names[i % 4]
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 9))))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(TOPICS[topic])))
        guess = topic if rng.random() < 0.75 else names[int(rng.integers(0, 4))]
        rows.append({"text": " ".join(words) + f" {i}", "label": topic, "llm": guess})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def topic_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("topics") / "topics.csv"
    headlines(480).to_csv(path, index=False)
    return path


@pytest.fixture
def four(topic_csv, tiny_decoder, tiny_encoder):
    return RunConfig(
        task=TaskConfig(
            task=str(topic_csv), test_size=40, answers=("world", "sports", "business", "science")
        ),
        weak=WeakConfig(weak_model=tiny_encoder, weak_n_train=48, weak_n_val=16, weak_epochs=1),
        train=TrainConfig(example_visits=64, batch_size=8, eval_batch_size=32),
        strong_model=tiny_decoder,
        budget=8,
        weak_cost=0.1,
        hq_fraction=0.5,
    )


def test_a_file_of_class_names_is_a_k_class_task(topic_csv):
    from labelbudget.tasks import load_task

    task = load_task(TaskConfig(task=str(topic_csv), test_size=40))
    assert task.space.names == ("business", "science", "sports", "world")  # sorted names are the ids
    assert np.bincount(task.test.labels, minlength=4).tolist() == [10, 10, 10, 10]
    assert np.bincount(task.pool.labels, minlength=4).min() == np.bincount(task.pool.labels).max()
    ordered = load_task(TaskConfig(task=str(topic_csv), test_size=40, classes=tuple(TOPICS)))
    assert ordered.space.names == tuple(TOPICS)
    merged = load_task(
        TaskConfig(task=str(topic_csv), test_size=40, label_map={"world": 0, "sports": 1, "business": 1})
    )
    assert merged.space.names == ("world", "business or sports")
    assert any(
        "dropped 120 rows whose label is not in --label-map ('science' 120)" in n for n in merged.notes
    )


@pytest.mark.parametrize("learner", ["lora", "probe"])
@pytest.mark.parametrize("method", ["seq_sft", "uncertainty", "logconf", "prompted_seq_sft"])
def test_every_sft_method_and_learner_runs_on_four_classes(four, tmp_path, method, learner, spy):
    cfg = dataclasses.replace(four, method=method, learner=learner)
    record, ran = run(cfg, tmp_path)
    assert ran and record.classes == ["business", "science", "sports", "world"]
    logits, labels = decode_predictions(record.predictions)
    assert logits.shape == (40, 4) and set(labels.tolist()) == {0, 1, 2, 3}
    assert record.accuracy == np.mean(logits.argmax(1) == labels)
    assert len(record.confusion) == 4 and sum(map(sum, record.confusion)) == 40
    assert 0 <= record.macro_f1 <= 1 and 0 <= record.calibration_error <= 1
    assert 0 <= record.auroc <= 1 and record.auroc_lo <= record.auroc <= record.auroc_hi
    assert record.weak_quality["confusion"] and len(record.weak_quality["mean_p"]) == 4
    assert (record.n_weak, record.n_hq) == (40, 4) and record.spent <= 8 + 1e-9


def test_icl_and_a_column_of_class_names_on_four_classes(four, tmp_path):
    cfg = dataclasses.replace(four, method="icl", budget=1.2, hq_fraction=0.5, weak_labels="column:llm")
    record, _ = run(cfg, tmp_path)
    logits, _ = decode_predictions(record.predictions)
    assert logits.shape == (40, 4) and (record.n_weak, record.n_hq) == (12, 0)
    assert record.weak_quality["accuracy"] > 0.6  # the column's names, 75% right by construction


def test_a_saved_four_class_model_writes_a_probability_per_class(four, tmp_path):
    from labelbudget.learners.saved import predict_file

    cfg = dataclasses.replace(four, learner="probe")
    record, _ = run(cfg, tmp_path / "results", save_model=tmp_path / "model")
    new = headlines(12, seed=5).drop(columns=["label", "llm"])
    new.to_csv(tmp_path / "new.csv", index=False)
    out = pd.read_csv(predict_file(tmp_path / "model", tmp_path / "new.csv"))
    columns = [f"p_{c}" for c in record.classes]
    assert set(columns) <= set(out.columns) and len(out) == 12
    assert np.allclose(out[columns].sum(axis=1), 1, atol=1e-5)
    assert set(out["label_pred"]) <= set(record.classes)
    assert (out[columns].to_numpy().argmax(1) == [record.classes.index(c) for c in out["label_pred"]]).all()


def test_classes_named_by_numbers_are_read_by_name_never_as_ids(tmp_path):
    """Star ratings 1-5 are the classes named "1".."5" (ids 0-4): a "1" a person, a weak-label
    column or --classes writes is the class named 1, never id 1 (the class named 2)."""
    import pandas as pd

    from labelbudget.config import TaskConfig
    from labelbudget.labels.labeling import label_value
    from labelbudget.labelspace import TWO, LabelSpace
    from labelbudget.tasks import load_task

    stars = LabelSpace(("1", "2", "3", "4", "5"))
    assert [label_value(v, stars) for v in ("1", "5", "5.0", "0")] == [0, 4, 4, None]
    assert TWO.lookup == {"0": 0, "1": 1, "0.0": 0, "1.0": 1}  # two classes as before
    assert LabelSpace(("neg", "pos")).lookup["1"] == 1  # ids still work where names are words
    rows = [{"text": f"review {i} of thing {i * 7}", "label": 1 + i % 5} for i in range(400)]
    pd.DataFrame(rows).to_csv(tmp_path / "stars.csv", index=False)
    given = {r["text"]: str(r["label"]) for r in rows}
    for classes in ((), ("1", "2", "3", "4", "5")):
        task = load_task(TaskConfig(task=str(tmp_path / "stars.csv"), test_size=50, classes=classes))
        assert task.space.names == ("1", "2", "3", "4", "5")
        for split in (task.pool, task.test):
            assert [task.space.names[c] for c in split.labels] == [given[t] for t in split.texts]
