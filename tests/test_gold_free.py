"""A person as the only source of truth: labeling files (CSV and Label Studio JSON), runs that
pause and resume as often as the method asks, and tasks without any gold labels (`--unlabeled`)
whose test set the person labels too, reported as evaluation spend."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_texts

from labelbudget.config import TaskConfig
from labelbudget.labels.labeling import Request, read_labels, read_request, write_request
from labelbudget.labels.person import LabelsNeeded
from labelbudget.labelspace import LabelSpace
from labelbudget.runs.run import run
from labelbudget.runs.store import Store
from labelbudget.tasks import load_task
from labelbudget.util.errors import UserError


def fill(request_csv, gold: dict[str, int], out, rows: slice | None = None):
    """Play the person: label the request's empty rows from the hidden gold (only `rows` of them)."""
    table = pd.read_csv(request_csv, dtype=str, keep_default_na=False)
    empty = [i for i, v in enumerate(table["label"]) if v == ""]
    for i in empty[rows] if rows is not None else empty:
        table.loc[i, "label"] = str(gold[table.loc[i, "text"]])
    table.to_csv(out, index=False)
    return out


def label_studio_export(folder, gold: dict[str, int], out):
    """Play a Label Studio user: import `to_label.json`, annotate every task, export JSON."""
    tasks = json.loads((folder / "to_label.json").read_text())
    for n, task in enumerate(tasks):
        choice = str(gold[task["data"]["text"]])
        result = [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}
        ]
        task.update(id=1000 + n, annotations=[{"id": n, "result": result, "was_cancelled": False}])
    out.write_text(json.dumps(tasks))
    return out


# --- labeling files ---------------------------------------------------------------------------


def test_label_studio_and_csv_round_trip(tmp_path):
    texts = ["good film", "bad film", 'a "quoted", comma text', "ünïcode ✓"]
    write_request(
        tmp_path, Request(["3", "7", "11", "12"], texts, [None, 0, None, None]), LabelSpace(("bad", "good"))
    )
    gold = dict(zip(texts, [1, 0, 1, 0], strict=True))
    back = read_request(tmp_path)
    assert back.ids == ["3", "7", "11", "12"] and back.texts == texts and back.labels == [None, 0, None, None]
    assert "Write 1 if this text is good, 0 if it is bad." in (tmp_path / "to_label.csv").read_text()
    config = (tmp_path / "label_config.xml").read_text()
    assert '<Choices name="label" toName="text"' in config and 'hint="good"' in config
    tasks = json.loads((tmp_path / "to_label.json").read_text())
    assert [t["data"]["id"] for t in tasks] == ["3", "7", "11", "12"]
    assert tasks[1]["annotations"][0]["result"][0]["value"]["choices"] == ["0"]  # the known label
    assert read_labels([label_studio_export(tmp_path, gold, tmp_path / "export.json")]) == gold
    minimal = [{"id": i, "text": t, "label": str(g)} for i, (t, g) in enumerate(gold.items())]
    (tmp_path / "min.json").write_text(json.dumps(minimal))  # Label Studio's JSON-MIN export
    assert read_labels([tmp_path / "min.json"]) == gold
    assert read_labels([fill(tmp_path / "to_label.csv", gold, tmp_path / "filled.csv")]) == gold
    assert read_labels([fill(tmp_path / "to_label.csv", gold, tmp_path / "part.csv", slice(0, 1))]) == {
        texts[0]: 1,
        texts[1]: 0,
    }


def test_labeling_files_refuse_what_is_not_a_label(tmp_path):
    write_request(tmp_path, Request(["0", "1"], ["a", "b"], [None, None]))
    table = pd.read_csv(tmp_path / "to_label.csv").assign(label=["1", "yes"])
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match="1 labels that are not 0 or 1.*'yes'"):
        read_labels([tmp_path / "bad.csv"])
    tasks = json.loads((tmp_path / "to_label.json").read_text())
    votes = [{"result": [{"from_name": "label", "value": {"choices": [c]}}]} for c in ("0", "1")]
    tasks[0]["annotations"] = votes
    (tmp_path / "clash.json").write_text(json.dumps(tasks))
    with pytest.raises(UserError, match="annotators disagree"):
        read_labels([tmp_path / "clash.json"])
    pd.DataFrame({"text": ["a"], "label": ["0"]}).to_csv(tmp_path / "other.csv", index=False)
    pd.DataFrame({"text": ["a"], "label": ["1"]}).to_csv(tmp_path / "other2.csv", index=False)
    with pytest.raises(UserError, match="two different labels"):
        read_labels([tmp_path / "other.csv", tmp_path / "other2.csv"])
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(UserError, match="could not parse"):
        read_labels([tmp_path / "broken.json"])


def test_a_labels_file_that_does_not_answer_what_was_asked_is_refused(tiny_config, tmp_path):
    """A row whose text changed on the way (a spreadsheet's doing) would be asked again forever:
    refused, naming the id; a file of other texts is said to answer none of the request."""
    cfg = dataclasses.replace(tiny_config, method="uncertainty", oracle="file")
    with pytest.raises(LabelsNeeded) as paused:
        run(cfg, tmp_path)
    task = load_task(cfg.task)
    gold = dict(zip(task.pool.texts, task.pool.labels.tolist(), strict=True))
    table = pd.read_csv(fill(paused.value.path, gold, tmp_path / "filled.csv"), dtype=str)
    first = table.loc[0, "id"]
    table.loc[0, "text"] = table.loc[0, "text"] + " (edited)"
    table.to_csv(tmp_path / "edited.csv", index=False)
    with pytest.raises(UserError, match=f"labels id {first} with the text .*the text changed") as bad:
        run(cfg, tmp_path, labels_file=tmp_path / "edited.csv")
    assert "exactly as written" in bad.value.fix
    export = json.loads(label_studio_export(paused.value.path.parent, gold, tmp_path / "e.json").read_text())
    export[1]["data"]["text"] = export[1]["data"]["text"].upper()  # the same in Label Studio's export
    (tmp_path / "e.json").write_text(json.dumps(export))
    with pytest.raises(UserError, match=f"labels id {export[1]['data']['id']} with the text"):
        run(cfg, tmp_path, labels_file=tmp_path / "e.json")
    ids = table["id"].tolist()  # another request's rows under the same ids (a merged file): not an edit
    other = pd.DataFrame({"id": ids, "text": [f"another request's text {i}" for i in ids], "label": "1"})
    other.to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(LabelsNeeded, match="none of them is in the 1 labels file\\(s\\) given so far"):
        run(cfg, tmp_path, labels_file=tmp_path / "other.csv")
    assert Store(tmp_path).records() == []


# --- every method resumes, however often it asks ------------------------------------------------


def test_all_hq_prompted_seq_sft_resumes_through_two_requests(tiny_config, tmp_path):
    """Its HQ demonstrations are asked before anything is trained, then its HQ stage: two
    pauses, one growing file, and the result equals the counting oracle's on the same labels."""
    cfg = dataclasses.replace(tiny_config, method="prompted_seq_sft", hq_fraction=1.0, budget=6)
    expected, _ = run(cfg, tmp_path / "oracle")
    task = load_task(cfg.task)
    gold = dict(zip(task.pool.texts, task.pool.labels.tolist(), strict=True))
    person = dataclasses.replace(cfg, oracle="file")
    with pytest.raises(LabelsNeeded) as first:
        run(person, tmp_path)
    assert first.value.n == 2 and "Label Studio" in str(first.value)
    demos = fill(first.value.path, gold, tmp_path / "demos.csv")
    with pytest.raises(LabelsNeeded) as second:
        run(person, tmp_path, labels_file=demos)
    assert second.value.path == first.value.path
    assert read_request(second.value.path.parent).labels.count(None) == 4 == second.value.n
    assert Store(tmp_path).records() == []
    export = label_studio_export(second.value.path.parent, gold, tmp_path / "export.json")
    record, ran = run(person, tmp_path, labels_file=[export])
    assert ran and record.n_hq == 6 and record.spent == pytest.approx(6.0)
    assert record.accuracy == expected.accuracy and record.predictions == expected.predictions


def test_file_oracle_waits_for_every_label_and_refuses_bad_ones(tiny_config, tmp_path):
    cfg = dataclasses.replace(tiny_config, method="uncertainty", oracle="file")
    with pytest.raises(LabelsNeeded) as paused:
        run(cfg, tmp_path)
    assert Store(tmp_path).records() == []
    task = load_task(cfg.task)
    request = pd.read_csv(paused.value.path)
    rows = pd.read_csv(cfg.task.task)  # ids are the file's own: its row numbers (it has no id column)
    assert len(request) == 4 and request["text"].tolist() == [rows["text"][i - 1] for i in request["id"]]
    assert set(request["text"]) <= set(task.pool.texts)
    gold = dict(zip(task.pool.texts, task.pool.labels.tolist(), strict=True))
    bad = pd.read_csv(paused.value.path).assign(label=["1", "yes", "0", "1"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(UserError, match="not 0 or 1"):
        run(cfg, tmp_path, labels_file=tmp_path / "bad.csv")
    part = fill(paused.value.path, gold, tmp_path / "part.csv", slice(0, 3))
    with pytest.raises(LabelsNeeded) as again:  # one label missing: asked again, the rest kept
        run(cfg, tmp_path, labels_file=part)
    assert again.value.n == 1 and read_request(again.value.path.parent).labels.count(None) == 1
    record, ran = run(cfg, tmp_path, labels_file=fill(again.value.path, gold, tmp_path / "all.csv"))
    assert ran and record.n_hq == 4 and record.spent == pytest.approx(8.0)
    assert [s["name"] for s in record.stages] == ["weak", "hq"]
    assert len(Store(tmp_path).records()) == 1


# --- a task without gold labels -----------------------------------------------------------------


@pytest.fixture
def hidden(tmp_path):
    """The practitioner's file: texts and a weak labeler's P(1), no gold; the gold kept aside."""
    data = synthetic_texts(240, seed=3)
    rng = np.random.default_rng(0)
    right = rng.random(len(data)) < 0.8
    data["weak"] = np.where(right, data["label"], 1 - data["label"]) * 0.8 + 0.1
    path = tmp_path / "unlabeled.csv"
    data[["text", "weak"]].to_csv(path, index=False)
    return path, dict(zip(data["text"], data["label"], strict=True))


def test_a_task_without_gold_runs_with_a_person_for_test_and_hq_labels(tiny_config, tmp_path, hidden):
    path, gold = hidden
    task = TaskConfig(task=str(path), unlabeled=True, test_size=20)
    cfg = dataclasses.replace(tiny_config, task=task, weak_labels="column:weak", oracle="file")
    results = tmp_path / "results"
    with pytest.raises(LabelsNeeded) as test_request:  # the test set first, before any training
        run(cfg, results)
    assert test_request.value.n == 20 and "test labels" in str(test_request.value)
    assert test_request.value.path.parent.name.startswith("test-")
    test_file = fill(test_request.value.path, gold, tmp_path / "test_labels.csv")
    with pytest.raises(LabelsNeeded) as hq_request:
        run(cfg, results, labels_file=[test_file])
    assert hq_request.value.n == 4 and Store(results).records() == []
    hq_file = label_studio_export(hq_request.value.path.parent, gold, tmp_path / "hq.json")
    record, ran = run(cfg, results, labels_file=[test_file, hq_file])
    assert ran and record.n_hq == 4 and record.eval_spent == 20.0 and record.spent <= 8
    assert any("evaluation spend: the 20 test labels came from you" in n for n in record.notes)
    assert any("no gold labels (--unlabeled)" in n for n in record.notes)
    test_texts = pd.read_csv(test_file)["text"].tolist()
    from labelbudget.runs.record import decode_predictions

    assert decode_predictions(record.predictions)[1].tolist() == [gold[t] for t in test_texts]
    assert record.weak_quality["n"] == 20 and record.weak_quality["against"] == "test split"
    weak = dict(pd.read_csv(path)[["text", "weak"]].itertuples(index=False))
    assert record.weak_accuracy == pytest.approx(np.mean([(weak[t] > 0.5) == gold[t] for t in test_texts]))
    again, ran = run(cfg, results, labels_file=[test_file, hq_file])  # the same labels: served
    assert not ran and again == record
    corrected = pd.read_csv(test_file)
    corrected.loc[0, "label"] = 1 - corrected.loc[0, "label"]
    corrected.to_csv(tmp_path / "corrected.csv", index=False)
    with pytest.raises(UserError, match="1 of 20 differ from what your labels files say now"):
        run(cfg, results, labels_file=[tmp_path / "corrected.csv", hq_file])
    assert Store(results).records() == [record]


def test_a_request_names_rows_by_the_file_s_own_ids_and_shows_texts_as_written(tiny_config, tmp_path, hidden):
    """Issue 39: the person matches the request against their own file (by its `id` column, or by
    exact text): the request keeps the file's ids and its texts as written (spaces and all), and
    labels written against those texts resume the run."""
    path, gold = hidden
    data = pd.read_csv(path)
    data.insert(0, "id", [f"doc-{i:04d}" for i in range(len(data))])
    data["text"] = ["  " + t + " " if i % 3 == 0 else t for i, t in enumerate(data["text"])]
    mine = tmp_path / "mine.csv"
    data.to_csv(mine, index=False)
    own = dict(zip(data["text"], data["id"], strict=True))
    by_text = {t: gold[t.strip()] for t in data["text"]}  # the user's labels, keyed by their exact texts
    task = TaskConfig(task=str(mine), unlabeled=True, test_size=20)
    cfg = dataclasses.replace(tiny_config, task=task, weak_labels="column:weak", oracle="file")
    with pytest.raises(LabelsNeeded) as asked:
        run(cfg, tmp_path / "results")
    request = pd.read_csv(asked.value.path, dtype=str, keep_default_na=False)
    assert set(request["text"]) <= set(own) and any(t != t.strip() for t in request["text"])
    assert request["id"].tolist() == [own[t] for t in request["text"]]
    studio = json.loads((asked.value.path.parent / "to_label.json").read_text())
    assert [t["data"]["id"] for t in studio] == request["id"].tolist()
    labels = fill(asked.value.path, by_text, tmp_path / "test_labels.csv")
    with pytest.raises(LabelsNeeded) as hq:  # the test labels were taken: now the HQ labels
        run(cfg, tmp_path / "results", labels_file=[labels])
    assert "HQ labels" in str(hq.value) and set(pd.read_csv(hq.value.path)["id"]) <= set(own.values())


def test_a_few_shot_prompts_demonstrations_come_from_the_person_once_for_every_run(
    tiny_config, tmp_path, hidden
):
    path, gold = hidden
    task = TaskConfig(task=str(path), unlabeled=True, test_size=20)
    weak = f"prompt:{tiny_config.strong_model}:3"
    cfg = dataclasses.replace(tiny_config, task=task, weak_labels=weak, oracle="file", hq_fraction=0.0)
    results = tmp_path / "results"
    with pytest.raises(LabelsNeeded) as test_request:
        run(cfg, results)
    test_file = fill(test_request.value.path, gold, tmp_path / "test_labels.csv")
    with pytest.raises(LabelsNeeded) as demos:  # then the demonstrations, before any scoring
        run(cfg, results, labels_file=[test_file])
    assert demos.value.n == 3 and demos.value.path.parent.name.startswith("demos-")
    demo_file = fill(demos.value.path, gold, tmp_path / "demos.csv")
    record, _ = run(cfg, results, labels_file=[test_file, demo_file])
    assert record.weak_spent_once == 3 and record.eval_spent == 20 and record.n_hq == 0
    other, ran = run(dataclasses.replace(cfg, seed=1), results, labels_file=[test_file, demo_file])
    assert ran and other.weak_key == record.weak_key  # the same demonstrations: no new request


def test_the_labels_a_file_already_has_answer_the_person_s_requests(tiny_config, tmp_path, hidden):
    """A file with some labels: --unlabeled reads none of them as gold, but passed as a labels
    file it answers every request for the texts it labels."""
    path, gold = hidden
    data = pd.read_csv(path)
    data["label"] = [gold[t] if i % 2 else None for i, t in enumerate(data["text"])]
    data.to_csv(path, index=False)
    task = TaskConfig(task=str(path), unlabeled=True, test_size=20)
    cfg = dataclasses.replace(tiny_config, task=task, weak_labels="column:weak", oracle="file")
    with pytest.raises(LabelsNeeded) as asked:
        run(cfg, tmp_path, labels_file=path)
    test_texts = load_task(task).test.texts
    unknown = sum(data.set_index("text")["label"].isna()[t] for t in test_texts)
    assert 0 < asked.value.n == unknown < 20


def test_a_task_without_gold_refuses_sources_that_need_gold_and_writes_nothing(tiny_config, tmp_path, hidden):
    path, _ = hidden
    task = TaskConfig(task=str(path), unlabeled=True, test_size=20)
    oracle = dataclasses.replace(tiny_config, task=task, weak_labels="column:weak")
    with pytest.raises(UserError, match="(?s)--oracle ground-truth sells the task's gold.*--oracle file"):
        run(oracle, tmp_path)
    trained = dataclasses.replace(tiny_config, task=task, oracle="file")
    with pytest.raises(UserError, match="(?s)--weak-labels trained needs gold labels.*column:NAME"):
        run(trained, tmp_path)
    from labelbudget.runs.run import refusal  # what a sweep's --dry-run says of each config

    assert "sells the task's gold labels" in refusal(oracle) and "needs gold labels" in refusal(trained)
    assert not (tmp_path / "labeling").exists() and Store(tmp_path).records() == []


def test_unlabeled_splits_are_random_and_disjoint_and_a_test_file_can_replace_the_person(tmp_path, hidden):
    path, gold = hidden
    task = load_task(TaskConfig(task=str(path), unlabeled=True, test_size=20))
    assert not task.gold and task.test_pending and len(task.test) == 20 and len(task.pool) == 220
    assert not set(task.test.texts) & set(task.pool.texts)
    labeled = tmp_path / "my_test.csv"
    rows = list(gold.items())[:30]
    pd.DataFrame({"text": [t for t, _ in rows], "label": [g for _, g in rows]}).to_csv(labeled, index=False)
    with pytest.raises(UserError, match="shares 20 texts with the task's pool"):
        load_task(TaskConfig(task=str(path), unlabeled=True, test_size=20, test_file=str(labeled)))
    others = synthetic_texts(30, seed=9)
    others.to_csv(labeled, index=False)
    task = load_task(TaskConfig(task=str(path), unlabeled=True, test_size=20, test_file=str(labeled)))
    assert not task.test_pending and len(task.test) == 20 and len(task.pool) == 240


# --- labels files as people and tools really write them ----------------------------------------


def test_the_request_filled_in_place_as_a_spreadsheet_saves_it_resumes_the_run(tiny_config, tmp_path):
    """A person fills to_label.csv itself, and the spreadsheet saves 1 as 1.0 or TRUE and ids as
    3.0: the run reads the labels they are and goes on."""
    cfg = dataclasses.replace(tiny_config, method="uncertainty", oracle="file")
    with pytest.raises(LabelsNeeded) as paused:
        run(cfg, tmp_path)
    task = load_task(cfg.task)
    gold = dict(zip(task.pool.texts, task.pool.labels.tolist(), strict=True))
    table = pd.read_csv(paused.value.path, dtype=str, keep_default_na=False)
    spelled = [{0: "0.0", 1: "1.0"}, {0: "FALSE", 1: "TRUE"}, {0: "false", 1: "true"}, {0: "0", 1: "1"}]
    table["label"] = [spelled[i % 4][gold[t]] for i, t in enumerate(table["text"])]
    table["id"] = table["id"].astype(float).astype(str)
    table.to_csv(paused.value.path, index=False)
    record, ran = run(cfg, tmp_path, labels_file=paused.value.path)
    assert ran and record.n_hq == 4


def test_a_bad_labels_file_is_refused_before_the_weak_stage_and_leaves_the_store_byte_identical(
    tiny_config, tmp_path
):
    cfg = dataclasses.replace(tiny_config, method="uncertainty", oracle="file")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["a", "b"], "label": ["1", "maybe"]}).to_csv(bad, index=False)
    with pytest.raises(UserError, match="1 labels that are not 0 or 1"):  # a new run: nothing trains
        run(cfg, tmp_path / "new", labels_file=bad)
    assert not (tmp_path / "new").exists()
    with pytest.raises(LabelsNeeded):
        run(cfg, tmp_path / "r")
    store = tmp_path / "r" / "labelbudget.sqlite"
    before = store.read_bytes()
    with pytest.raises(UserError, match="1 labels that are not 0 or 1"):
        run(cfg, tmp_path / "r", labels_file=bad)
    assert store.read_bytes() == before


def test_labels_files_that_are_not_what_they_seem_are_refused_with_what_they_are(tmp_path):
    (tmp_path / "labels.xlsx").write_bytes(b"PK\x03\x04 a workbook")
    with pytest.raises(UserError, match="is a spreadsheet workbook \\(.xlsx\\), not CSV"):
        read_labels([tmp_path / "labels.xlsx"])
    (tmp_path / "named.csv").write_bytes(b"PK\x03\x04 a workbook saved under a .csv name")
    with pytest.raises(UserError, match="is a zip archive"):
        read_labels([tmp_path / "named.csv"])
    write_request(tmp_path, Request([0, 1], ["good film", "bad film"], [None, None]))
    tasks = json.loads((tmp_path / "to_label.json").read_text())
    del tasks[1]["data"]["text"]  # a project created without the request's interface
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    with pytest.raises(UserError, match="task 2 has no text \\(data.text is None\\)"):
        read_labels([tmp_path / "export.json"])
    (tmp_path / "min.json").write_text(json.dumps([{"id": 0, "label": "1"}]))
    with pytest.raises(UserError, match="task 1 has no text \\(text is None\\)"):
        read_labels([tmp_path / "min.json"])
    (tmp_path / "nested.jsonl").write_text(json.dumps({"text": ["a"], "label": 1}) + "\n")
    with pytest.raises(UserError, match="hold a JSON list in the column 'text'"):
        read_labels([tmp_path / "nested.jsonl"])
