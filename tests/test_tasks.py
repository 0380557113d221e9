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


# --- data a reader would misread is refused, with what it is -----------------------------------


def test_a_jsonl_text_or_label_that_is_a_list_or_an_object_is_refused(tmp_path):
    rows = [{"text": f"text {i}", "label": i % 2} for i in range(40)]
    for column, value, kind in (
        ("text", ["a", "b"], "list"),
        ("text", {"a": 1}, "object"),
        ("label", [1], "list"),
    ):
        bad = [dict(r) for r in rows]
        bad[3][column] = value
        path = tmp_path / f"{column}-{kind}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in bad))
        with pytest.raises(UserError, match=f"1 rows hold a JSON {kind} in the column '{column}'.*row 4"):
            load_task(TaskConfig(task=str(path), test_size=4))


def test_texts_given_both_labels_are_dropped_or_refused_with_the_count(tmp_path):
    """A few (real data has some): every copy dropped and said; many: the file is refused,
    as a weak-label file that gives a text two values is. Plain duplicates: dropped, noted."""
    df = synthetic_texts(300)
    few = pd.concat([df, df.iloc[:2].assign(label=1 - df["label"][:2]), df.iloc[2:5]])
    task = load_task(TaskConfig(task=str(write(few, tmp_path / "few.csv")), test_size=20))
    assert "dropped 2 texts that the file gives more than one label (4 rows" in " ".join(task.notes)
    assert not {*df["text"][:2]} & {*task.pool.texts, *task.test.texts}
    assert "dropped 3 duplicate texts" in task.notes
    every = pd.concat([df, df.assign(label=1 - df["label"])])
    with pytest.raises(UserError, match="gives 300 of its 300 distinct texts more than one label"):
        load_task(TaskConfig(task=str(write(every, tmp_path / "every.csv")), test_size=20))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_nul_in_a_text_is_refused(tmp_path, suffix):
    df = synthetic_texts(40)
    df.loc[7, "text"] = "a text with a \x00 inside"
    path = write(df, tmp_path / f"nul{suffix}")  # JSONL escapes it (\u0000): found after parsing
    message = "holds a NUL byte \\(line 9\\)" if suffix == ".csv" else "hold a NUL character \\(e.g. row 8\\)"
    with pytest.raises(UserError, match=message):
        load_task(TaskConfig(task=str(path), test_size=4))


def test_a_carriage_return_pandas_wrote_unquoted_is_named_as_the_cause(tmp_path):
    """pandas quotes a text for a line feed, not for a carriage return: a reader ends the row at
    it, and the label column filled with pieces of texts ("not binary: 43 distinct values")."""
    df = synthetic_texts(60)
    df.insert(0, "id", range(len(df)))
    df.loc[5:, "text"] = "\r" + df.loc[5:, "text"]
    df.to_csv(tmp_path / "cr.csv", index=False)
    with pytest.raises(
        UserError, match=r"carriage return \(\\r\) inside a text on line 7, outside quotes"
    ) as e:
        load_task(TaskConfig(task=str(tmp_path / "cr.csv"), test_size=4))
    assert "QUOTE_NONNUMERIC" in e.value.fix
    import csv

    df.to_csv(tmp_path / "quoted.csv", index=False, quoting=csv.QUOTE_NONNUMERIC)  # the fix works
    assert len(load_task(TaskConfig(task=str(tmp_path / "quoted.csv"), test_size=4)).test) == 4
    first = synthetic_texts(60).assign(text=lambda d: "\r" + d["text"])  # text first: only a line skipped
    first.to_csv(tmp_path / "first.csv", index=False)
    assert len(load_task(TaskConfig(task=str(tmp_path / "first.csv"), test_size=4)).pool) == 56


def test_labels_as_spreadsheets_save_them_are_read(tmp_path):
    df = synthetic_texts(40)
    df["label"] = (
        df["label"]
        .map({1: "TRUE", 0: "FALSE"})
        .where(df.index % 3 != 0, df["label"].map({1: "1.0", 0: "0.0"}))
    )
    task = load_task(TaskConfig(task=str(write(df, tmp_path / "sheet.csv")), test_size=4))
    truth = dict(zip(df["text"], df["label"].isin(["TRUE", "1.0"]).astype(int), strict=True))
    assert all(truth[t] == y for t, y in zip(task.pool.texts, task.pool.labels, strict=True))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"PK\x03\x04workbook", "is a zip archive \\(a spreadsheet workbook"),
        ("text,label\na,1\n".encode("utf-16"), "is UTF-16 text"),
    ],
)
def test_a_workbook_or_utf16_file_named_csv_is_refused_as_what_it_is(tmp_path, content, message):
    (tmp_path / "data.csv").write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_task(TaskConfig(task=str(tmp_path / "data.csv"), test_size=4))


def test_a_line_too_long_to_be_a_text_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    from labelbudget.tasks import files

    monkeypatch.setattr(files, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(files, "CHUNK", 64)  # the line spans chunks
    df = synthetic_texts(40)
    df.loc[20, "text"] = "word " * 300
    path = write(df, tmp_path / "long.csv")
    with pytest.raises(UserError, match="has a line longer than 1,000 bytes \\(line 22\\)"):
        load_task(TaskConfig(task=str(path), test_size=4))
    read = []
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: read.append(a))
    with pytest.raises(UserError):
        files.read_table(path)
    assert read == []  # refused before pandas reads anything


def test_a_jsonl_file_with_a_byte_order_mark_reads_as_without(tmp_path):
    df = synthetic_texts(40)
    path = write(df, tmp_path / "d.jsonl")
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    task = load_task(TaskConfig(task=str(tmp_path / "bom.jsonl"), test_size=4))
    assert task.pool.texts == load_task(TaskConfig(task=str(path), test_size=4)).pool.texts
