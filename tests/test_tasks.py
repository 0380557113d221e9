"""Tasks: files in three formats, label maps, dedup, balanced held-out test, no leaks."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_texts

from labelbudget.config import TaskConfig, WeakConfig
from labelbudget.labels.trained import weak_split
from labelbudget.tasks import load_task
from labelbudget.tasks.prepare import Labeled, prepare
from labelbudget.util.errors import UserError


def write(df: pd.DataFrame, path):
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict("records")))
    else:
        df.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_file_task_formats_give_the_same_split(tmp_path, suffix):
    df = synthetic_texts(200)
    task = load_task(TaskConfig(task=str(write(df, tmp_path / f"d{suffix}")), test_size=40))
    reference = load_task(TaskConfig(task=str(write(df, tmp_path / "ref.csv")), test_size=40))
    assert task.test.texts == reference.test.texts and task.pool.texts == reference.pool.texts
    assert np.bincount(task.test.labels).tolist() == [20, 20]
    assert not set(task.test.texts) & set(task.pool.texts)
    assert len(task.test) + len(task.pool) == 200


def test_label_map_and_text_columns(tmp_path):
    df = synthetic_texts(100).rename(columns={"text": "sentence", "label": "sentiment"})
    df["sentiment"] = df["sentiment"].map({1: "pos", 0: "neg"})
    df.loc[:4, "sentiment"] = "neutral"
    cfg = TaskConfig(
        task=str(write(df, tmp_path / "d.csv")),
        text_column="sentence",
        label_column="sentiment",
        label_map={"pos": 1, "neg": 0},
        test_size=20,
    )
    task = load_task(cfg)
    assert any("dropped 5 rows" in n for n in task.notes)
    positives = [t for t, y in zip(task.pool.texts, task.pool.labels, strict=True) if y == 1]
    assert all(
        any(
            w in t.split()
            for w in ("good", "great", "excellent", "lovely", "wonderful", "happy", "fine", "nice")
        )
        for t in positives
    )


def test_dedup_balance_and_seeded_split():
    texts = ["a", "a", "b", "c", "d", "e", "f", "g", "h", "h", "i", "j", "k", "l"]
    labels = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 1])
    cfg = TaskConfig(test_size=4)
    task = prepare("t", Labeled(texts, labels), None, cfg)
    assert any("dropped 2 duplicate" in n for n in task.notes)
    for split in (task.test, task.pool):
        assert len(set(split.texts)) == len(split)
        assert np.bincount(split.labels).tolist()[0] == np.bincount(split.labels).tolist()[1]
    again = prepare("t", Labeled(texts, labels), None, cfg)
    assert again.test.texts == task.test.texts
    other = prepare("t", Labeled(texts, labels), None, TaskConfig(test_size=4, data_seed=1))
    assert other.test.texts != task.test.texts or other.pool.texts != task.pool.texts


def test_source_test_split_never_leaks_into_the_pool():
    train = Labeled([f"t{i}" for i in range(40)] + ["shared0", "shared1"], np.array([0, 1] * 21))
    test = Labeled(["shared0", "shared1", "u0", "u1"], np.array([0, 1, 0, 1]))
    task = prepare("t", train, test, TaskConfig(test_size=4))
    assert set(task.test.texts) == {"shared0", "shared1", "u0", "u1"}
    assert not set(task.pool.texts) & set(task.test.texts)
    assert any("also occur in test" in n for n in task.notes)


def test_weak_split_is_scaled_to_the_pool_and_disjoint():
    task = prepare(
        "t", Labeled([f"x{i}" for i in range(1000)], np.array([0, 1] * 500)), None, TaskConfig(test_size=100)
    )
    split = weak_split(task, WeakConfig(), data_seed=0)
    assert len(split.used_ids) <= 0.25 * len(task.pool)
    assert len(split.train_ids) / len(split.val_ids) == pytest.approx(16, rel=0.1)
    assert not set(split.train_ids) & set(split.val_ids)
    assert split.notes and "instead of 8000 + 500" in split.notes[0]


def test_embedded_tweets_task():
    task = load_task(TaskConfig())
    assert task.name == "tweet-sentiment"
    assert len(task.test) == 1000 and np.bincount(task.test.labels).tolist() == [500, 500]
    assert len(task.pool) > 10000 and abs(task.pool.labels.mean() - 0.5) < 1e-9
    assert not set(task.test.texts) & set(task.pool.texts)
    assert any("neutral" in n for n in task.notes)


def test_too_small_for_test_set():
    texts = [f"t{i}" for i in range(8)]
    with pytest.raises(UserError, match=r"--test-size \(at most 6\)"):
        prepare("t", Labeled(texts, np.array([0, 1] * 4)), None, TaskConfig(test_size=8))
    with pytest.raises(UserError, match="at least 4 distinct texts of each class"):
        prepare("t", Labeled(texts[:4], np.array([0, 1] * 2)), None, TaskConfig(test_size=2))


def test_a_headerless_file_is_recognised_and_read(tmp_path, caplog):
    """A file whose first row is data: the error says so (not "pass --text-column with one of
    ['Unions representing ...', 'Business']"); with --no-header (header=False) it loads, its two
    columns read as text and label, and the label map's per-class counts are said."""
    df = synthetic_texts(120)
    df["label"] = df["label"].map({1: "Sci/Tech", 0: "Business"})
    df.loc[::3, "label"] = "World"
    path = tmp_path / "news.csv"
    df.to_csv(path, index=False, header=False)
    label_map = {"Sci/Tech": 1, "Business": 0, "World": 0}
    with pytest.raises(UserError, match="seems to have no header row") as e:
        load_task(TaskConfig(task=str(path), test_size=20, label_map=label_map))
    assert "--no-header" in e.value.fix
    with caplog.at_level("INFO"):
        task = load_task(TaskConfig(task=str(path), test_size=20, label_map=label_map, header=False))
    assert len(task.pool) + len(task.test) > 0
    n1 = int((df["label"] == "Sci/Tech").sum())
    n_world, n_business = int((df["label"] == "World").sum()), int((df["label"] == "Business").sum())
    notes = "\n".join(task.notes)
    assert f"class 1 after --label-map: {n1:,} rows ('Sci/Tech' {n1:,})" in notes
    assert f"class 0 after --label-map: {n_world + n_business:,} rows" in notes
    assert f"'World' {n_world:,}" in notes
    assert "balanced to 50/50" in notes and "the test set is balanced" in notes
    assert "class 1 after --label-map" in caplog.text  # said when the task loads, before the work


def test_a_natural_test_mix_keeps_the_files_class_shares(tmp_path):
    """--test-mix natural: the test set has the file's share of class 1 (25% here), the pool is
    still balanced, nothing leaks, and the notes say which mix the test set has."""
    df = synthetic_texts(400)
    ones = df.index[df["label"] == 1]
    df = df.drop(ones[: len(ones) * 2 // 3])  # about a quarter of class 1 left
    path = write(df, tmp_path / "skewed.csv")
    share = float((df["label"] == 1).mean())
    natural = load_task(TaskConfig(task=str(path), test_size=40, test_mix="natural"))
    balanced = load_task(TaskConfig(task=str(path), test_size=40))
    assert len(natural.test) == 40 and np.bincount(balanced.test.labels).tolist() == [20, 20]
    assert natural.test.labels.mean() == pytest.approx(share, abs=1 / 40)
    assert np.bincount(natural.pool.labels)[0] == np.bincount(natural.pool.labels)[1]
    assert not set(natural.test.texts) & set(natural.pool.texts)
    assert any("keeps the data's class mix" in n for n in natural.notes)
    assert any("--test-mix natural" in n for n in balanced.notes)


def test_a_test_file_is_the_test_set_and_must_not_overlap_the_pool(tmp_path):
    """--test-file: its rows (balanced to --test-size) are the test set, the task file is all
    pool, and a text in both is refused with the count (never silently dropped); the file's
    content is part of the run's identity."""
    import dataclasses

    from labelbudget.config import RunConfig
    from labelbudget.runs.identity import inputs

    df = synthetic_texts(300)
    pool_file, test_file = (
        write(df.iloc[:200], tmp_path / "pool.csv"),
        write(df.iloc[200:], tmp_path / "test.csv"),
    )
    cfg = TaskConfig(task=str(pool_file), test_file=str(test_file), test_size=40)
    task = load_task(cfg)
    assert set(task.test.texts) <= set(df.iloc[200:]["text"]) and len(task.test) == 40
    assert set(task.pool.texts) <= set(df.iloc[:200]["text"])
    overlap = write(df.iloc[190:], tmp_path / "overlap.csv")
    with pytest.raises(UserError, match=r"shares \d+ texts with the task's pool") as e:
        load_task(dataclasses.replace(cfg, test_file=str(overlap)))
    assert "remove those texts" in e.value.fix
    read = inputs(RunConfig(task=cfg))
    write(df.iloc[201:], test_file)
    assert inputs(RunConfig(task=cfg))["test_file"] != read["test_file"]


def test_which_tasks_load_from_local_files_only(tmp_path):
    """`sweep --dry-run` checks pools only where that downloads nothing."""
    from labelbudget.tasks.registry import is_local

    assert is_local(TaskConfig(task="tweet-sentiment"))
    assert is_local(TaskConfig(task=str(write(synthetic_texts(10), tmp_path / "d.csv"))))
    assert not is_local(TaskConfig(task="boolq"))
    assert is_local(TaskConfig(task="boolq", data_dir=str(tmp_path)))


def test_a_task_file_edited_within_a_process_is_loaded_again(tmp_path):
    path = tmp_path / "mine.csv"
    synthetic_texts(120, seed=1).to_csv(path, index=False)
    cfg = TaskConfig(task=str(path), test_size=20)
    first = load_task(cfg)
    assert load_task(cfg) is first  # cached while the file is unchanged
    synthetic_texts(200, seed=2).to_csv(path, index=False)
    again = load_task(cfg)
    assert again is not first and len(again.pool) + len(again.test) > len(first.pool) + len(first.test)
