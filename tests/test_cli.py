"""Bad input, as a new user types it: every case gets one message naming the problem and the fix
(`labelbudget: error: ...` then `  fix: ...`), a non-zero exit, no traceback, and leaves the
results folder as it was (its stored run intact, no artifacts).

The table runs the CLI's `main` in this process (a subprocess per case would cost ~4 s of
imports each); two cases at the end go through `python -m labelbudget` as a user would.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_record, synthetic_texts
from test_saved import save_models

from labelbudget.__main__ import main
from labelbudget.config import TaskConfig
from labelbudget.runs.store import Store


def _csv(path: Path, texts, labels) -> None:
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)


def _files(d: Path) -> dict[str, Path]:
    """The bad (and good) inputs, written once per test into `d`."""
    f = {}
    f["good"] = d / "good.csv"
    synthetic_texts(200).to_csv(f["good"], index=False)
    f["multi"] = d / "multi.csv"
    _csv(f["multi"], [f"t{i}" for i in range(30)], [i % 3 for i in range(30)])
    f["one"] = d / "one.csv"
    _csv(f["one"], [f"t{i}" for i in range(30)], [1] * 30)
    f["header"] = d / "header.csv"
    f["header"].write_text("text,label\n")
    f["zero"] = d / "zero.csv"
    f["zero"].write_bytes(b"")
    f["broken"] = d / "broken.jsonl"
    f["broken"].write_text('{"text": "a", "label": 1}\n{"text": "b", "lab\n')
    f["array"] = d / "array.jsonl"
    f["array"].write_text('{"text": "a", "label": 1}\n[1, 2]\n')
    f["txt"] = d / "data.txt"
    f["txt"].write_text("hello\n")
    f["nan"] = d / "nan.csv"
    _csv(f["nan"], ["NaN", "nan", "None", "", "  "] * 8, [0, 1] * 20)
    f["twice_jsonl"] = d / "twice.jsonl"
    f["twice_jsonl"].write_text('{"text": "a", "label": 0, "label": 1}\n')
    f["twice_csv"] = d / "twice.csv"
    f["twice_csv"].write_text("text,label,text\na,0,b\n")
    f["nan_jsonl"] = d / "nan.jsonl"
    f["nan_jsonl"].write_text("".join(json.dumps({"text": None, "label": i % 2}) + "\n" for i in range(20)))
    f["repeated"] = d / "repeated.csv"
    _csv(f["repeated"], ["same text"] * 40, [0, 1] * 20)
    f["words"] = d / "words.csv"
    _csv(f["words"], [f"t{i}" for i in range(40)], ["pos", "neg"] * 20)
    f["latin1"] = d / "latin1.csv"
    f["latin1"].write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    f["ragged"] = d / "ragged.csv"
    f["ragged"].write_text("text,label\na,1\nb,0,extra,cells\n")
    f["small"] = d / "small.csv"
    synthetic_texts(30).to_csv(f["small"], index=False)
    f["bad_model"] = d / "bad-model"
    f["bad_model"].mkdir()
    (f["bad_model"] / "config.json").write_text('{"model_type": "no-such-architecture"}')
    f["a_file"] = d / "a-file"
    f["a_file"].write_text("not a folder")
    f["headerless"] = d / "headerless.csv"
    first = "Unions representing workers at Turner Newall say they are upset"
    f["headerless"].write_text(f"{first},Business\nb,World\n")
    return f


# --- inputs made only for the cases that name them (a case's placeholders: `Inputs`) ----------


def _write(d: Path, name: str, content: str | bytes) -> Path:
    path = d / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _table(d: Path, name: str, **columns) -> Path:
    path = d / name
    frame = pd.DataFrame(columns)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    else:
        frame.to_csv(path, index=False)
    return path


def _good_texts() -> list[str]:
    return synthetic_texts(200)["text"].tolist()


def _labels_csv(d: Path, name: str, labels: list[str], texts: list[str] | None = None) -> Path:
    texts = texts or [f"t{i}" for i in range(len(labels))]
    return _table(d, name, id=range(len(labels)), text=texts, label=labels)


def _studio(d: Path, name: str, tasks: object) -> Path:
    return _write(d, name, json.dumps(tasks))


def _vote(choice: str) -> dict:
    return {
        "result": [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [choice]}}
        ]
    }


def _jsonl_with(column: str, value: object) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        rows = [{"text": f"text {i}", "label": i % 2} for i in range(40)]
        rows[3][column] = value
        return _write(
            d, f"nested-{column}-{type(value).__name__}.jsonl", "".join(json.dumps(r) + "\n" for r in rows)
        )

    return make


def _cr(d: Path, suffix: str) -> Path:
    """Texts behind a carriage return, as pandas writes them (unquoted), after an id column."""
    data = synthetic_texts(60)
    data.insert(0, "id", range(len(data)))
    data["text"] = "\r" + data["text"]
    path = d / f"cr{suffix}"
    data.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    return path


def _long_line(d: Path) -> Path:
    """A line longer than any text: a file whose line breaks are missing."""
    from labelbudget.tasks.files import MAX_LINE_BYTES

    return _write(d, "long.csv", "text,label\n" + "x" * (MAX_LINE_BYTES + 10) + ",1\n")


def _linked(d: Path, inside: str, target_is_dir: bool) -> Path:
    """A results folder (with its stored run) holding a link at `inside` to a place elsewhere."""
    results = d / f"linked-{inside.replace('/', '-')}"
    Store(results).add(make_record())
    elsewhere = d / f"elsewhere-{inside.replace('/', '-')}"
    if target_is_dir:
        elsewhere.mkdir()
    else:
        elsewhere.write_text("not yours to write")
    (results / inside).parent.mkdir(parents=True, exist_ok=True)
    (results / inside).symlink_to(elsewhere, target_is_directory=target_is_dir)
    return results


def _model(learner: str, damage: Callable[[Path, Inputs], object] | None = None, name: str = "") -> Callable:
    """A copy of a saved model (`Inputs.models`), damaged as a case needs."""

    def make(d: Path, inputs: Inputs) -> Path:
        folder = Path(shutil.copytree(inputs.models[learner], d / f"model-{learner}{name}"))
        if damage is not None:
            damage(folder, inputs)
        return folder

    return make


def _meta(**changes) -> Callable[[Path, Inputs], None]:
    def edit(folder: Path, inputs: Inputs | None = None) -> None:
        meta = json.loads((folder / "model.json").read_text())
        (folder / "model.json").write_text(json.dumps({**meta, **changes}))

    return edit


def _sweep_file(name: str, text: str) -> Callable[[Path, Inputs], Path]:
    def make(d: Path, inputs: Inputs) -> Path:
        return _write(d, name, text.format_map(inputs))

    return make


MAKERS: dict[str, Callable] = {
    # task files a reader would misread
    "nested_text_list": _jsonl_with("text", ["a", "list"]),
    "nested_text_object": _jsonl_with("text", {"an": "object"}),
    "nested_label_list": _jsonl_with("label", [1]),
    "both_labels": lambda d: _table(d, "both.csv", text=_good_texts() * 2, label=[0, 1] * 100 + [1, 0] * 100),
    "nul_csv": lambda d: _write(d, "nul.csv", "text,label\na text,1\nanother\x00text,0\n"),
    "nul_jsonl": lambda d: _write(d, "nul.jsonl", '{"text": "a\\u0000b", "label": 1}\n'),
    "cr_csv": lambda d: _cr(d, ".csv"),
    "cr_tsv": lambda d: _cr(d, ".tsv"),
    "zip_csv": lambda d: _write(d, "workbook.csv", b"PK\x03\x04\x14\x00\x06\x00 an xlsx saved as .csv"),
    "utf16_csv": lambda d: _write(d, "utf16.csv", "text,label\ngood,1\nbad,0\n".encode("utf-16")),
    "long_line": _long_line,
    "folder_csv": lambda d: (d / "folder.csv").mkdir() or d / "folder.csv",
    "empty_jsonl": lambda d: _write(d, "empty.jsonl", "\n\n"),
    "only_blank_lines": lambda d: _write(d, "blank.csv", "text,label\n\n\n"),
    "labels_2": lambda d: _table(d, "two.csv", text=_good_texts(), label=[0, 1, 2, 1] * 50),
    "float_labels": lambda d: _table(d, "float.csv", text=_good_texts(), label=[0.5, 1.5] * 100),
    "sixty_labels": lambda d: _table(
        d, "sixty.csv", text=_good_texts(), label=[f"c{i % 60}" for i in range(200)]
    ),
    # test files
    "test_overlap": lambda d: _table(d, "test_overlap.csv", text=_good_texts()[:40], label=[0, 1] * 20),
    "test_one_class": lambda d: _table(
        d, "test_one.csv", text=[f"new {i}" for i in range(40)], label=[1] * 40
    ),
    "test_nested": _jsonl_with("text", ["in", "a", "test", "file"]),
    # weak labels: columns of the task file and predictions files
    "weak_bad_values": lambda d: _table(
        d, "weak_bad.csv", text=_good_texts(), label=[0, 1] * 100, p=["high", "0.2"] * 100
    ),
    "weak_out_of_range": lambda d: _table(
        d, "weak_range.csv", text=_good_texts(), label=[0, 1] * 100, p=[1.5] * 200
    ),
    "pred_disagree": lambda d: _table(d, "pred_disagree.csv", text=_good_texts()[:2] * 2, p1=[0, 1, 1, 0]),
    "pred_no_value": lambda d: _table(d, "pred_nov.csv", text=_good_texts(), a=1, b=2),
    "pred_few": lambda d: _table(d, "pred_few.csv", text=_good_texts()[:20], p1=[0.9] * 20),
    "pred_txt": lambda d: _write(d, "predictions.txt", "text,p1\na,1\n"),
    "pred_no_key": lambda d: _table(d, "pred_nokey.csv", sentence=_good_texts(), p1=[0.5] * 200),
    "task_with_ids": lambda d: _table(d, "ids.csv", id=range(200), text=_good_texts(), label=[0, 1] * 100),
    "pred_unknown_ids": lambda d: _table(d, "pred_ids.csv", id=range(1000, 1200), p1=[0.5] * 200),
    "pred_repeated_ids": lambda d: _table(d, "pred_rep.csv", id=[1] * 200, p1=[0.5] * 200),
    # labels files (a person's)
    "labels_xlsx": lambda d: _write(d, "labels.xlsx", b"PK\x03\x04 a workbook"),
    "labels_ods": lambda d: _write(d, "labels.ods", b"PK\x03\x04 a workbook"),
    "labels_txt": lambda d: _write(d, "labels.txt", "text,label\na,1\n"),
    "labels_folder": lambda d: (d / "labels").mkdir() or d / "labels",
    "labels_zip_csv": lambda d: _write(d, "labels_zip.csv", b"PK\x03\x04 a workbook saved as .csv"),
    "labels_utf16": lambda d: _write(d, "labels16.csv", "id,text,label\n0,a,1\n".encode("utf-16")),
    "labels_yes": lambda d: _labels_csv(d, "yes.csv", ["1", "yes", "0"]),
    "labels_half": lambda d: _labels_csv(d, "half.csv", ["1", "0.5"]),
    "labels_minus": lambda d: _labels_csv(d, "minus.csv", ["-1", "1"]),
    "labels_clash": lambda d: _labels_csv(d, "clash.csv", ["1", "0"], ["same text", "same text"]),
    "labels_clash_other": lambda d: _labels_csv(d, "clash2.csv", ["0"], ["t0"]),
    "labels_t0_one": lambda d: _labels_csv(d, "t0.csv", ["1"], ["t0"]),
    "labels_no_label": lambda d: _table(d, "nolabel.csv", id=[0], text=["a"], answer=["1"]),
    "labels_nul": lambda d: _write(d, "labels_nul.csv", "id,text,label\n0,a\x00b,1\n"),
    "labels_nested": lambda d: _write(d, "labels.jsonl", json.dumps({"text": {"a": 1}, "label": 1}) + "\n"),
    "labels_empty_file": lambda d: _write(d, "labels_empty.csv", ""),
    "labels_ragged": lambda d: _write(d, "labels_ragged.csv", "id,text,label\n0,a,1\n1,b,0,extra\n"),
    "studio_no_text": lambda d: _studio(
        d, "studio_notext.json", [{"data": {"id": 0}, "annotations": [_vote("1")]}]
    ),
    "studio_min_no_text": lambda d: _studio(d, "studio_min.json", [{"id": 0, "label": "1"}]),
    "studio_object": lambda d: _studio(d, "studio_object.json", {"tasks": []}),
    "studio_strings": lambda d: _studio(d, "studio_strings.json", ["a", "b"]),
    "studio_garbage": lambda d: _write(d, "studio_garbage.json", "{ this is not JSON"),
    "studio_disagree": lambda d: _studio(
        d, "studio_disagree.json", [{"data": {"id": 0, "text": "a"}, "annotations": [_vote("0"), _vote("1")]}]
    ),
    "studio_annotations_text": lambda d: _studio(
        d, "studio_ann.json", [{"data": {"text": "a"}, "annotations": "x"}]
    ),
    "studio_choice_string": lambda d: _studio(
        d,
        "studio_choice.json",
        [{"data": {"text": "a"}, "annotations": [{"result": [{"value": {"choices": "1"}}]}]}],
    ),
    "studio_text_number": lambda d: _studio(d, "studio_number.json", [{"data": {"id": 0, "text": 5}}]),
    "studio_choice_word": lambda d: _studio(
        d, "studio_word.json", [{"data": {"id": 0, "text": "a"}, "annotations": [_vote("positive")]}]
    ),
    # --save-model targets
    "save_link": lambda d: (
        (d / "empty").mkdir() or (d / "save_link").symlink_to(d / "empty") or d / "save_link"
    ),
    "save_full": lambda d: (d / "full").mkdir() or _write(d, "full/x", "x") and d / "full",
    # results folders holding a link
    "linked_report": lambda d: _linked(d, "report.html", False),
    "linked_csv": lambda d: _linked(d, "report.csv", False),
    "linked_labeling": lambda d: _linked(d, "labeling", True),
    "linked_request": lambda d: _linked(d, "labeling/abc123", True),
    "linked_artifacts": lambda d: _linked(d, "artifacts", True),
    "linked_store": lambda d: _linked(d, "kept", True),
    # predict: inputs
    "new_csv": lambda d: _table(d, "new.csv", text=["a good film", "an awful film"]),
    "new_header_only": lambda d: _write(d, "new_header.csv", "text\n"),
    "new_zero": lambda d: _write(d, "new_zero.csv", ""),
    "new_no_text": lambda d: _table(d, "new_sentence.csv", sentence=["a good film"]),
    "new_txt": lambda d: _write(d, "new.txt", "text\na good film\n"),
    "new_folder": lambda d: (d / "new_folder.csv").mkdir() or d / "new_folder.csv",
    "new_p1": lambda d: _table(d, "new_p1.csv", text=["a good film"], p1=[0.3]),
    "new_label_pred": lambda d: _table(d, "new_lp.csv", text=["a good film"], label_pred=["x"]),
    "new_blank": lambda d: _write(d, "new_blank.csv", "text,n\n,1\n   ,2\n"),
    "new_nul": lambda d: _write(d, "new_nul.csv", "text\na\x00b\n"),
    "new_nested": lambda d: _write(d, "new.jsonl", json.dumps({"text": ["a", "list"]}) + "\n"),
    "new_zip": lambda d: _write(d, "new_zip.csv", b"PK\x03\x04 a workbook"),
    "new_ragged": lambda d: _write(d, "new_ragged.csv", "text\na\nb,c,d\n"),
    "new_cr": lambda d: _write(d, "new_cr.csv", "n,text\n1,\ra good film\n2,fine\n"),
    "new_link": lambda d: (d / "new_link.csv").symlink_to(d / "new.csv") or d / "new_link.csv",
    # predict: saved models, as saved and damaged
    "probe": _model("probe"),
    "lora": _model("lora"),
    "lora_probe_state": _model(
        "lora",
        lambda f, i: shutil.copy(i.models["probe"] / "state.safetensors", f / "state.safetensors"),
        "-swap",
    ),
    "learner_null": _model("lora", _meta(learner=None), "-null"),
    "learner_svm": _model("probe", _meta(learner="svm"), "-svm"),
    "json_garbage": _model("probe", lambda f, i: (f / "model.json").write_text("{garbage"), "-garbage"),
    "json_list": _model("probe", lambda f, i: (f / "model.json").write_text("[1, 2]"), "-list"),
    "json_empty": _model("probe", lambda f, i: (f / "model.json").write_text(""), "-emptyjson"),
    "json_latin1": _model(
        "probe", lambda f, i: (f / "model.json").write_bytes(b'{"a": "caf\xe9"}'), "-latin1"
    ),
    "format_1": _model("probe", _meta(format=1), "-format1"),
    "format_99": _model("probe", _meta(format=99), "-format99"),
    "no_format": _model("probe", lambda f, i: _meta()(f) or _drop(f, "format"), "-noformat"),
    "state_truncated": _model(
        "probe",
        lambda f, i: (f / "state.safetensors").write_bytes((f / "state.safetensors").read_bytes()[:100]),
        "-trunc",
    ),
    "state_missing": _model("probe", lambda f, i: (f / "state.safetensors").unlink(), "-nostate"),
    "state_empty": _model("probe", lambda f, i: (f / "state.safetensors").write_bytes(b""), "-emptystate"),
    "state_folder": _model(
        "probe",
        lambda f, i: (f / "state.safetensors").unlink() or (f / "state.safetensors").mkdir(),
        "-statedir",
    ),
    "adapter_missing": _model("lora", lambda f, i: shutil.rmtree(f / "adapter"), "-noadapter"),
    "adapter_weights_edited": _model(
        "lora", lambda f, i: _append(f / "adapter" / "adapter_model.safetensors"), "-adapteredit"
    ),
    "adapter_extra": _model(
        "lora", lambda f, i: _write(f / "adapter", "adapter_model.bin", b"pickle"), "-extra"
    ),
    "no_digests": _model("probe", _meta(files={}), "-nodigests"),
    "digests_not_a_map": _model("probe", _meta(files=["state.safetensors"]), "-digestlist"),
    "layer_99": _model("probe", _meta(layer=99), "-layer99"),
    "layer_negative": _model("probe", _meta(layer=-2), "-layerneg"),
    "layer_text": _model("probe", _meta(layer="middle"), "-layertext"),
    "depth_2": _model("probe", _meta(depth=2), "-depth2"),
    "lora_rank_0": _model("lora", _meta(lora_rank=0), "-rank0"),
    "pooling_max": _model("probe", _meta(pooling="max"), "-poolmax"),
    "dtype_int8": _model("lora", _meta(dtype="int8"), "-int8"),
    "text_column_null": _model("probe", _meta(text_column=None), "-textnull"),
    "label_map_bad": _model("probe", _meta(label_map={"pos": "two"}), "-mapbad"),
    "classes_missing": _model("probe", _meta(classes=None), "-noclasses"),
    "classes_one": _model("probe", _meta(classes=["a"]), "-oneclass"),
    "hidden_zero": _model("probe", _meta(hidden_size=0), "-hidden0"),
    "strong_empty": _model("probe", _meta(strong_model=""), "-strongempty"),
    "strong_unknown": _model("probe", _meta(strong_model="no-such-org/no-such-model"), "-strongunknown"),
    "strong_other": _model("probe", lambda f, i: _meta(strong_model=_other_model(f))(f), "-other"),
    "model_is_a_file": lambda d: _write(d, "model-file", "not a folder"),
    "model_empty_folder": lambda d: (d / "model-empty").mkdir() or d / "model-empty",
    # sweep files beyond SWEEPS: fields used or refused, and what only the checks find
    "sweep_task_twice": _sweep_file(
        "task_twice.yaml", "template:\n  task: {{task: {good}}}\ntasks: [tweet-sentiment]\n"
    ),
    "sweep_budget_dropped": _sweep_file(
        "budget_dropped.yaml", "template: {{budget: 20}}\nbudgets: [16, 64]\n"
    ),
    "sweep_seed_dropped": _sweep_file("seed_dropped.yaml", "template: {{seed: 7}}\n"),
    "sweep_method_dropped": _sweep_file(
        "method_dropped.yaml", "template: {{method: icl}}\nmethods: [seq_sft]\n"
    ),
    "sweep_weak_twice": _sweep_file(
        "weak_twice.yaml", "template: {{weak_labels: 'column:p'}}\nweak_sources: [trained]\n"
    ),
    "sweep_exponent_seed": _sweep_file("exponent_seed.yaml", "seeds: [1e3]\n"),
    "sweep_hq_only_negative": _sweep_file("hq_only.yaml", "hq_only_budgets: [-8]\n"),
    "sweep_small_seeds_negative": _sweep_file("small_seeds.yaml", "small_stage_seeds: [-1]\n"),
    "sweep_method_fractions": _sweep_file("method_fractions.yaml", "method_fractions: {{seq_sft: 0.5}}\n"),
    "sweep_tasks_empty": _sweep_file("tasks_empty.yaml", "tasks: []\n"),
    "sweep_weak_sources_scalar": _sweep_file("weak_scalar.yaml", "weak_sources: trained\n"),
    "sweep_alias": _sweep_file("alias.yaml", "budgets: &b [16]\nseeds: *b\n"),
    "sweep_template_list": _sweep_file("template_list.yaml", "template: [1, 2]\n"),
    "sweep_template_task_number": _sweep_file("task_number.yaml", "template:\n  task: {{test_size: 1}}\n"),
    "sweep_template_seed_negative": _sweep_file(
        "template_seed.yaml", "template: {{seed: -1}}\nseeds: [-1]\n"
    ),
    "sweep_unknown_method": _sweep_file("unknown_method.yaml", "methods: [magic]\nbudgets: [16]\n"),
    "sweep_person": _sweep_file("person.yaml", "template: {{oracle: file}}\nbudgets: [16]\n"),
    "sweep_missing_task": _sweep_file(
        "missing_task.yaml", "template:\n  task: {{task: {tmp}/nope.csv}}\nbudgets: [16]\nseeds: [0]\n"
    ),
    "sweep_bad_task_file": _sweep_file(
        "bad_task.yaml", "template:\n  task: {{task: {multi}}}\nbudgets: [16]\nseeds: [0]\n"
    ),
    "sweep_big": lambda d: _write(d, "big.yaml", "# " + "x" * 1_100_000 + "\n"),
    "sweep_deep": lambda d: _write(d, "deep.json", "[" * 100_000 + "]" * 100_000),
    "sweep_json_list": lambda d: _write(d, "list.json", "[16, 64]"),
    "sweep_txt": lambda d: _write(d, "sweep.txt", "budgets: [16]\n"),
}


def _drop(folder: Path, key: str) -> None:
    meta = json.loads((folder / "model.json").read_text())
    meta.pop(key)
    (folder / "model.json").write_text(json.dumps(meta))


def _append(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\0")


def _other_model(folder: Path) -> str:
    """Another base model than the one the saved model was trained on (the tiny BERT)."""
    return json.loads((folder / "model.json").read_text())["record"]["weak_model"]


class Inputs(dict):
    """The case table's placeholders: made on first use (`MAKERS`), under the test's folder."""

    def __init__(self, folder: Path, models: dict[str, Path], values: dict[str, str]):
        super().__init__(values)
        self.folder, self.models = folder, models

    def __missing__(self, key: str) -> str:
        make = MAKERS[key]
        path = make(self.folder, self) if make.__code__.co_argcount == 2 else make(self.folder)
        self[key] = str(path)
        return self[key]


SWEEPS = {
    "scalar axis": "budgets: abc\n",
    "empty axis": "budgets: []\n",
    "fractional seed": "seeds: [0.5]\n",
    "wrong nested type": "template:\n  task: {test_size: many}\n",
    "duplicate key": "budgets: [16]\nbudgets: [64]\n",
    "python tag": "template: !!python/object:os.system {}\n",
    "unknown key": "budget: [16]\n",
    "unknown template field": "template: {budgets: 16}\n",
    "unknown nested field": "template:\n  train: {learning_rate: 0.1}\n",
    "zero cost": "weak_costs: [0]\n",
    "fraction above one": "hq_fractions: [1.5]\n",
    "yaml syntax": "budgets: [16, 64\n",
    "not a mapping": "- 16\n- 64\n",
    "negative seed": "seeds: [-1]\n",
    "infinite budget": "budgets: [.inf]\n",
}

R = "--results"
# case: (argv with {placeholders}, expected text in the message, whose message: ours or tyro's)
CASES: dict[str, tuple[list[str], str]] = {
    # -- run: every config field's type and range, before anything loads
    "budget inf": (["run", "--budget", "inf"], "budget: must be a finite number"),
    "budget nan": (["run", "--budget", "nan"], "budget: must be a finite number"),
    "budget negative": (["run", "--budget", "-1"], "budget: must be positive"),
    "budget zero": (["run", "--budget", "0"], "budget: must be positive"),
    "budget text": (["run", "--budget", "lots"], "--budget"),
    "weak cost zero": (["run", "--weak-cost", "0"], "weak_cost: must be positive"),
    "weak cost negative": (["run", "--weak-cost", "-0.5"], "weak_cost: must be positive"),
    "weak cost above HQ price": (["run", "--weak-cost", "2"], "at most 1"),
    "fraction above one": (["run", "--hq-fraction", "1.5"], "hq_fraction: must be in [0, 1]"),
    "fraction negative": (["run", "--hq-fraction", "-0.1"], "hq_fraction: must be in [0, 1]"),
    "seed negative": (["run", "--seed", "-1"], "seed: must be >= 0"),
    "seed fractional": (["run", "--seed", "0.5"], "--seed"),
    "data seed negative": (["run", "--data-seed", "-3"], "data_seed: must be >= 0"),
    "test size one": (["run", "--test-size", "1"], "test_size: must be at least 2"),
    "test size of one": (["run", "--test-size", "1"], "test_size: must be at least 2, got 1"),
    "text column is the label column": (
        ["run", "--task", "{good}", "--text-column", "label", "--label-column", "label"],
        "is the label column too",
    ),
    "labels file without a person as oracle": (
        ["run", "--task", "{good}", "--labels-file", "{good}"],
        "add --oracle file",
    ),
    "jsonl key given twice": (["run", "--task", "{twice_jsonl}"], "line 1: the key 'label' is given twice"),
    "csv column given twice": (["run", "--task", "{twice_csv}"], "names the column 'text' twice"),
    "huge seed": (["run", "--seed", "9223372036854775808"], "seed: must be an integer below 2**63"),
    "budget that buys too many labels": (
        ["run", "--budget", "1e12", "--weak-cost", "1e-300"],
        "fewer than 10^12",
    ),
    "max pool zero": (["run", "--max-pool", "0"], "max_pool: must be positive"),
    "weak n train one": (["run", "--weak-n-train", "1"], "weak_n_train: must be at least 2"),
    "weak pool fraction zero": (["run", "--weak-max-pool-fraction", "0"], "weak_max_pool_fraction"),
    "lr negative": (["run", "--lr", "-1"], "lr: must be positive"),
    "batch size zero": (["run", "--batch-size", "0"], "batch_size: must be at least 1"),
    "patience zero": (["run", "--patience", "0"], "patience: must be at least 1"),
    "weak target accuracy of a coin": (["run", "--weak-target-accuracy", "0.5"], "weak_target_accuracy"),
    "unknown test mix": (["run", "--test-mix", "skewed"], "--test-mix"),
    "headerless file": (["run", "--task", "{headerless}"], "seems to have no header row"),
    "beta2 one": (["run", "--beta2", "1"], "beta2: must be in (0, 1)"),
    "grad norm zero": (["run", "--max-grad-norm", "0"], "max_grad_norm: must be positive"),
    "probe layer two": (["run", "--probe-layer", "2"], "probe_layer: must be in [0, 1]"),
    "temperature negative": (["run", "--temperature", "-1"], "temperature: must be >= 0"),
    "k shot zero": (["run", "--k-shot", "0"], "k_shot: must be at least 1"),
    "label map value": (["run", "--label-map", "pos", "-1"], "label_map: values must be class ids"),
    "empty task": (["run", "--task", " "], "task: is empty"),
    "unknown choice": (["run", "--pooling", "max"], "Invalid choice"),
    "unknown flag": (["run", "--budjet", "16"], "Unrecognized options"),
    # -- run: names, and what a method can do with what the budget buys
    "unknown task": (["run", "--task", "glue-nonsense"], "unknown task 'glue-nonsense'"),
    "unknown method": (["run", "--task", "{good}", "--method", "magic"], "unknown method 'magic'"),
    "unknown strong model": (
        ["run", "--task", "{good}", "--strong-model", "no-such-org/no-such-model"],
        "unknown model 'no-such-org/no-such-model'",
    ),
    "unknown weak model": (["run", "--task", "{good}", "--weak-model", "nonexistent-weak"], "unknown model"),
    "model directory that cannot load": (
        ["run", "--task", "{good}", "--strong-model", "{bad_model}"],
        "has no weights",
    ),
    "budget too small for a stage": (
        ["run", "--task", "{good}", "--budget", "2", "--hq-fraction", "0.5"],
        "a stage needs at least 3",
    ),
    "icl with k shot": (["run", "--method", "icl", "--k-shot", "3"], "--k-shot does not apply"),
    "pool too small": (
        ["run", "--task", "{good}", "--test-size", "40", "--budget", "100", "--hq-fraction", "0"]
        + ["--weak-cost", "0.01"],
        "the pool of",
    ),
    # -- run: the user's file
    "missing file": (["run", "--task", "{tmp}/nope.csv"], "does not exist"),
    "unknown file type": (["run", "--task", "{txt}"], "unknown type '.txt'"),
    "wrong text column": (
        ["run", "--task", "{good}", "--text-column", "sentence"],
        "no text column 'sentence'",
    ),
    "wrong label column": (["run", "--task", "{good}", "--label-column", "y"], "no label column 'y'"),
    "three classes, too few of each": (["run", "--task", "{multi}"], "10 examples per class after balancing"),
    "one class": (["run", "--task", "{one}"], "has no examples of class 0"),
    "header only": (["run", "--task", "{header}"], "no examples"),
    "zero bytes": (["run", "--task", "{zero}"], "could not parse"),
    "malformed jsonl": (["run", "--task", "{broken}"], "line 2"),
    "jsonl line not an object": (["run", "--task", "{array}"], "line 2: expected a JSON object"),
    "NaN and empty texts": (["run", "--task", "{nan}"], "dropped 40 rows with empty or missing text"),
    "null texts in jsonl": (["run", "--task", "{nan_jsonl}"], "dropped 20 rows with empty or missing text"),
    "one repeated text": (["run", "--task", "{repeated}"], "distinct texts"),
    "label map names absent labels": (
        ["run", "--task", "{words}", "--label-map", "positive", "1", "negative", "0"],
        "does not contain: ['negative', 'positive']",
    ),
    "words as labels, too few": (["run", "--task", "{words}"], "20 examples per class after balancing"),
    "not utf-8": (["run", "--task", "{latin1}"], "could not parse"),
    "ragged csv": (["run", "--task", "{ragged}"], "could not parse"),
    "test set larger than data": (["run", "--task", "{small}", "--test-size", "100"], "--test-size (at most"),
    # -- the results folder and store, checked before any work
    "results is a file": (["run", "--task", "{good}", R, "{a_file}"], "is a file, not a folder"),
    "corrupt store: run": (["run", "--task", "{good}", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: report": (["report", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: plan": (["plan", "--budget", "64", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: sweep": (["sweep", "--dry-run", R, "{corrupt}"], "is not a labelbudget store"),
    "corrupt store: weak": (["weak", "--task", "{good}", R, "{corrupt}"], "is not a labelbudget store"),
    "newer store": (["run", "--task", "{good}", R, "{newer}"], "newer than this labelbudget"),
    "foreign database": (["report", R, "{foreign}"], "not labelbudget's `runs`"),
    "plan on an empty folder": (["plan", "--budget", "64", R, "{tmp}/empty"], "no stored runs"),
    "report on an empty folder": (["report", R, "{tmp}/empty"], "no stored runs"),
    "plan negative budget": (["plan", "--budget", "-1"], "--budget must be a positive number"),
    "plan infinite budget": (["plan", "--budget", "inf"], "--budget must be a positive number"),
    "plan zero weak cost": (["plan", "--budget", "64", "--weak-cost", "0"], "--weak-cost must be in (0, 1]"),
    # -- sweeps: flags and files
    "sweep empty budgets flag": (["sweep", "--dry-run", "--budgets"], "--budgets"),
    "sweep negative budget flag": (["sweep", "--dry-run", "--budgets", "-16"], "budgets must be positive"),
    "sweep negative seed flag": (["sweep", "--dry-run", "--seeds", "-1"], "seeds must be non-negative"),
    "sweep refused run": (
        ["sweep", "--dry-run", "--budgets", "2", "--hq-fractions", "0.5"],
        "would be refused",
    ),
    "sweep file missing": (["sweep", "{tmp}/nope.yaml"], "does not exist"),
    "sweep json duplicate key": (["sweep", "{sweep_json_dupe}"], "given twice"),
    **{
        f"sweep file: {name}": (["sweep", "{sweep_" + name.replace(" ", "_") + "}"], expected)
        for name, expected in {
            "scalar axis": "budgets must be a list, got 'abc'",
            "empty axis": "the sweep's budgets is empty",
            "fractional seed": "seeds: must be a list of integers",
            "wrong nested type": "test_size: must be an integer below 2**63, got 'many'",
            "duplicate key": "the key 'budgets' is given twice (line 2)",
            "python tag": "could not parse",
            "unknown key": "unknown keys ['budget']",
            "unknown template field": "unknown template field 'budgets'",
            "unknown nested field": "template.train must be a mapping of its fields",
            "zero cost": "weak_costs must be prices in (0, 1]",
            "fraction above one": "hq_fractions must be fractions in [0, 1]",
            "yaml syntax": "could not parse",
            "not a mapping": "must hold a mapping",
            "negative seed": "seeds must be non-negative",
            "infinite budget": "budgets: must be a list of finite numbers",
        }.items()
    },
}


P = ["predict", "--model"]
FILE = ["--oracle", "file", "--labels-file"]
DRY = ["sweep", "--dry-run"]
# Beyond the first table: what the project's own tests did not try (issue 36), every subcommand.
MORE_CASES: dict[str, tuple[list[str], str]] = {
    # -- run: task files a reader would misread
    "jsonl text is a list": (
        ["run", "--task", "{nested_text_list}"],
        "hold a JSON list in the column 'text'",
    ),
    "jsonl text is an object": (
        ["run", "--task", "{nested_text_object}"],
        "hold a JSON object in the column 'text'",
    ),
    "jsonl label is a list": (
        ["run", "--task", "{nested_label_list}"],
        "hold a JSON list in the column 'label'",
    ),
    "every text given both labels": (
        ["run", "--task", "{both_labels}"],
        "gives 200 of its 200 distinct texts more than one label",
    ),
    "NUL byte in a csv": (["run", "--task", "{nul_csv}"], "holds a NUL byte (line 3)"),
    "NUL escaped in jsonl": (["run", "--task", "{nul_jsonl}"], "hold a NUL character"),
    "pandas-written carriage returns": (
        ["run", "--task", "{cr_csv}"],
        "carriage return (\\r) inside a text on line 2",
    ),
    "carriage returns in a tsv": (["run", "--task", "{cr_tsv}"], "TSV has no quoting"),
    "a workbook named .csv": (["run", "--task", "{zip_csv}"], "is a zip archive"),
    "a UTF-16 file": (["run", "--task", "{utf16_csv}"], "is UTF-16 text"),
    "a line of 8 MiB": (["run", "--task", "{long_line}"], "has a line longer than 8,388,608 bytes (line 2)"),
    "a folder named .csv": (["run", "--task", "{folder_csv}"], "is a folder"),
    "jsonl of blank lines": (["run", "--task", "{empty_jsonl}"], "has no text column 'text'"),
    "csv of blank lines": (["run", "--task", "{only_blank_lines}"], "no examples"),
    "labels 0, 1 and 2, too few of class 0": (["run", "--task", "{labels_2}"], "50 examples per class"),
    "labels 0.5 and 1.5": (
        ["run", "--task", "{float_labels}"],
        "numbers that are not class ids ('0.5', '1.5')",
    ),
    "sixty labels": (["run", "--task", "{sixty_labels}"], "take 60 distinct values"),
    "classes the file lacks": (
        ["run", "--task", "{labels_2}", "--classes", "neg", "pos"],
        "labels that are none of --classes ['neg', 'pos']",
    ),
    "classes beside a label map of another size": (
        ["run", "--task", "{words}", "--label-map", "pos", "1", "neg", "0", "--classes", "a", "b", "c"],
        "names 3 classes but --label-map maps to 2",
    ),
    "answers of another count": (
        ["run", "--task", "{labels_2}", "--answers", "yes", "no"],
        "2 answers for 3 classes",
    ),
    "descriptions of another count": (
        ["run", "--task", "{labels_2}", "--descriptions", "bad"],
        "1 descriptions for 3 classes",
    ),
    "answers repeated": (["run", "--task", "{labels_2}", "--answers", "a", "b", "a"], "answer words repeat"),
    "classes for the embedded task": (
        ["run", "--classes", "bad", "good"],
        "names its classes ['negative', 'positive'], not ['bad', 'good']",
    ),
    "label map leaving out class 0": (
        ["run", "--task", "{words}", "--label-map", "pos", "1", "neg", "2"],
        "maps to the class ids [1, 2]",
    ),
    "label map odd length": (["run", "--label-map", "pos"], "--label-map"),
    "label map for the embedded task": (
        ["run", "--label-map", "positive", "1"],
        "--label-map says how to read",
    ),
    "text column for the embedded task": (
        ["run", "--text-column", "body"],
        "--text-column says how to read a task",
    ),
    "no header for the embedded task": (["run", "--no-header"], "--no-header says how to read a task file"),
    "text column of a jsonl missing": (
        ["run", "--task", "{nan_jsonl}", "--text-column", "body"],
        "no text column 'body'",
    ),
    "no header and one column": (["run", "--task", "{txt}"], "unknown type"),
    # -- run: the test file
    "test file missing": (["run", "--task", "{good}", "--test-file", "{tmp}/none.csv"], "task file"),
    "test file shares texts": (
        ["run", "--test-size", "40", "--task", "{good}", "--test-file", "{test_overlap}"],
        "shares 40 texts",
    ),
    "test file of one class": (
        ["run", "--task", "{good}", "--test-file", "{test_one_class}"],
        "has no examples of class 0",
    ),
    "test file with a list text": (
        ["run", "--task", "{good}", "--test-file", "{test_nested}"],
        "hold a JSON list",
    ),
    "test file a workbook": (["run", "--task", "{good}", "--test-file", "{zip_csv}"], "is a zip archive"),
    # -- run: weak-label sources
    "weak column missing": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "column:nope"],
        "no weak-label column 'nope'",
    ),
    "weak column of words": (
        ["run", "--test-size", "40", "--task", "{weak_bad_values}", "--weak-labels", "column:p"],
        "values that are not a class of ['0', '1'] (or its id), or P(1) in [0, 1]",
    ),
    "weak column above one": (
        ["run", "--test-size", "40", "--task", "{weak_out_of_range}", "--weak-labels", "column:p"],
        "(e.g. '1.5'",
    ),
    "weak column on the embedded task": (["run", "--weak-labels", "column:p"], "needs a task file"),
    "weak column without a name": (["run", "--weak-labels", "column:"], "needs an argument after the colon"),
    "weak file missing": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{tmp}/none.csv"],
        "does not exist",
    ),
    "weak file of the wrong type": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{pred_txt}"],
        "is not .csv",
    ),
    "weak file that disagrees": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{pred_disagree}"],
        "2 texts two",
    ),
    "weak file without a value": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{pred_no_value}"],
        "no weak-label column",
    ),
    "weak file labels too few": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{pred_few}"],
        "at least 50% needed",
    ),
    "weak file with neither id nor text": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{pred_no_key}"],
        "neither an `id`",
    ),
    "weak file with unknown ids": (
        ["run", "--test-size", "40", "--task", "{task_with_ids}", "--weak-labels", "file:{pred_unknown_ids}"],
        "200 ids the task file does not",
    ),
    "weak file with repeated ids": (
        [
            "run",
            "--test-size",
            "40",
            "--task",
            "{task_with_ids}",
            "--weak-labels",
            "file:{pred_repeated_ids}",
        ],
        "199 repeated ids",
    ),
    "weak file a workbook": (
        ["run", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{zip_csv}"],
        "is a zip archive",
    ),
    "unknown weak source": (["run", "--weak-labels", "magic"], "unknown label source 'magic'"),
    "an HQ source as the weak one": (
        ["run", "--weak-labels", "ground-truth"],
        "sells hq labels, not weak labels",
    ),
    "a weak source as the oracle": (["run", "--oracle", "trained"], "sells weak labels, not hq labels"),
    "unknown oracle": (["run", "--oracle", "magic"], "unknown label source 'magic'"),
    "prompt without a model": (["run", "--weak-labels", "prompt:"], "needs an argument after the colon"),
    "unlabeled with the gold oracle": (
        ["run", "--test-size", "40", "--task", "{good}", "--unlabeled", "--weak-labels", "column:label"],
        "--oracle ground-truth sells the task's gold labels",
    ),
    "unlabeled with the trained weak labeler": (
        ["run", "--test-size", "40", "--task", "{good}", "--unlabeled", "--oracle", "file"],
        "--weak-labels trained needs gold labels",
    ),
    # -- run: a person's labels files, refused before any work
    "labels file an xlsx": (
        ["run", "--task", "{good}", *FILE, "{labels_xlsx}"],
        "a spreadsheet workbook (.xlsx), not CSV",
    ),
    "labels file an ods": (
        ["run", "--task", "{good}", *FILE, "{labels_ods}"],
        "a spreadsheet workbook (.ods)",
    ),
    "labels file a txt": (["run", "--task", "{good}", *FILE, "{labels_txt}"], "is of type '.txt'"),
    "labels file a folder": (["run", "--task", "{good}", *FILE, "{labels_folder}"], "is a folder"),
    "labels file missing": (["run", "--task", "{good}", *FILE, "{tmp}/none.csv"], "does not exist"),
    "labels file a workbook named csv": (
        ["run", "--task", "{good}", *FILE, "{labels_zip_csv}"],
        "is a zip archive",
    ),
    "labels file in UTF-16": (["run", "--task", "{good}", *FILE, "{labels_utf16}"], "is UTF-16 text"),
    "labels file says yes": (
        ["run", "--task", "{good}", *FILE, "{labels_yes}"],
        "1 labels that are not 0 or 1 (e.g. 'yes'",
    ),
    "labels file says 0.5": (["run", "--task", "{good}", *FILE, "{labels_half}"], "(e.g. '0.5'"),
    "labels file says -1": (["run", "--task", "{good}", *FILE, "{labels_minus}"], "(e.g. '-1'"),
    "labels file labels a text twice": (
        ["run", "--task", "{good}", *FILE, "{labels_clash}"],
        "two different labels",
    ),
    "two labels files disagree": (
        ["run", "--task", "{good}", *FILE, "{labels_clash_other}", "{labels_t0_one}"],
        "two different labels",
    ),
    "labels file without a label column": (
        ["run", "--task", "{good}", *FILE, "{labels_no_label}"],
        "lacks ['label']",
    ),
    "labels file with a NUL": (["run", "--task", "{good}", *FILE, "{labels_nul}"], "holds a NUL byte"),
    "labels file with a list text": (
        ["run", "--task", "{good}", *FILE, "{labels_nested}"],
        "hold a JSON object",
    ),
    "labels file empty": (["run", "--task", "{good}", *FILE, "{labels_empty_file}"], "could not parse"),
    "labels file ragged": (["run", "--task", "{good}", *FILE, "{labels_ragged}"], "could not parse"),
    "Label Studio task without a text": (
        ["run", "--task", "{good}", *FILE, "{studio_no_text}"],
        "task 1 has no text",
    ),
    "Label Studio JSON-MIN without a text": (
        ["run", "--task", "{good}", *FILE, "{studio_min_no_text}"],
        "(text is None)",
    ),
    "Label Studio export an object": (
        ["run", "--task", "{good}", *FILE, "{studio_object}"],
        "not a list of Label Studio",
    ),
    "Label Studio export of strings": (
        ["run", "--task", "{good}", *FILE, "{studio_strings}"],
        "not a list of Label Studio",
    ),
    "Label Studio export not JSON": (
        ["run", "--task", "{good}", *FILE, "{studio_garbage}"],
        "could not parse labels file",
    ),
    "Label Studio annotators disagree": (
        ["run", "--task", "{good}", *FILE, "{studio_disagree}"],
        "annotators disagree",
    ),
    "Label Studio annotations not a list": (
        ["run", "--task", "{good}", *FILE, "{studio_annotations_text}"],
        "annotations is 'x', not a list",
    ),
    "Label Studio choices a string": (
        ["run", "--task", "{good}", *FILE, "{studio_choice_string}"],
        "a result's choices is '1', not a list",
    ),
    "Label Studio text a number": (
        ["run", "--task", "{good}", *FILE, "{studio_text_number}"],
        "(data.text is 5)",
    ),
    "Label Studio choice a word": (["run", "--task", "{good}", *FILE, "{studio_choice_word}"], "'positive'"),
    # -- run: --save-model
    "save model into a link": (
        ["run", "--task", "{good}", "--save-model", "{save_link}"],
        "is a symbolic link",
    ),
    "save model into a file": (
        ["run", "--task", "{good}", "--save-model", "{a_file}"],
        "not an empty folder",
    ),
    "save model into a full folder": (
        ["run", "--task", "{good}", "--save-model", "{save_full}"],
        "not an empty folder",
    ),
    "save model of icl": (["run", "--method", "icl", "--save-model", "{tmp}/m"], "cannot save a icl run"),
    "save model of prompted sft": (
        ["run", "--method", "prompted_seq_sft", "--save-model", "{tmp}/m"],
        "few-shot prompts",
    ),
    # -- run: a results folder with a link inside
    "results with a linked labeling folder": (
        ["run", "--task", "{good}", R, "{linked_labeling}"],
        "is a symbolic link",
    ),
    "results with a linked request folder": (
        ["run", "--task", "{good}", R, "{linked_request}"],
        "abc123 is a symbolic",
    ),
    "results with linked artifacts": (
        ["run", "--task", "{good}", R, "{linked_artifacts}"],
        "artifacts is a symbolic",
    ),
    "results with a linked folder of kept runs": (
        ["run", "--task", "{good}", R, "{linked_store}"],
        "kept is a symbolic",
    ),
    # -- run: every remaining config field's range, and options a method does not read
    "test size zero": (["run", "--test-size", "0"], "test_size: must be at least 2"),
    "max pool negative": (["run", "--max-pool", "-5"], "max_pool: must be positive"),
    "weak n val one": (["run", "--weak-n-val", "1"], "weak_n_val: must be at least 2"),
    "weak epochs zero": (["run", "--weak-epochs", "0"], "weak_epochs/weak_lr: must be positive"),
    "weak lr negative": (["run", "--weak-lr", "-1e-4"], "weak_epochs/weak_lr: must be positive"),
    "weak target accuracy above one": (
        ["run", "--weak-target-accuracy", "1.5"],
        "weak_target_accuracy: must be in",
    ),
    "example visits zero": (["run", "--example-visits", "0"], "example_visits: must be at least 1"),
    "eval every zero": (["run", "--eval-every", "0"], "eval_every: must be at least 1"),
    "micro batch zero": (["run", "--micro-batch", "0"], "micro_batch: must be at least 1"),
    "micro batch tokens zero": (
        ["run", "--micro-batch-tokens", "0"],
        "micro_batch_tokens: must be at least 1",
    ),
    "eval batch size zero": (["run", "--eval-batch-size", "0"], "eval_batch_size: must be at least 1"),
    "lora rank zero": (["run", "--lora-rank", "0"], "lora_rank: must be at least 1"),
    "warmup negative": (["run", "--max-warmup-steps", "-1"], "max_warmup_steps/weight_decay/min_delta"),
    "weight decay negative": (["run", "--weight-decay", "-0.1"], "max_warmup_steps/weight_decay/min_delta"),
    "min delta negative": (["run", "--min-delta", "-0.01"], "max_warmup_steps/weight_decay/min_delta"),
    "beta2 zero": (["run", "--beta2", "0"], "beta2: must be in (0, 1)"),
    "probe lr zero": (["run", "--probe-lr", "0"], "probe_lr: must be positive"),
    "probe layer negative": (["run", "--probe-layer", "-0.5"], "probe_layer: must be in [0, 1]"),
    "max candidates zero": (
        ["run", "--method", "uncertainty", "--max-candidates", "0"],
        "max_candidates: must be positive",
    ),
    "k shot negative": (
        ["run", "--method", "prompted_seq_sft", "--k-shot", "-2"],
        "k_shot: must be at least 1",
    ),
    "temperature with seq_sft": (
        ["run", "--temperature", "1"],
        "--temperature does not apply to --method seq_sft",
    ),
    "max candidates with seq_sft": (["run", "--max-candidates", "9"], "--max-candidates does not apply"),
    "k shot with seq_sft": (["run", "--k-shot", "2"], "--k-shot does not apply to --method seq_sft"),
    "learner with icl": (
        ["run", "--method", "icl", "--learner", "probe"],
        "--learner does not apply to --method icl",
    ),
    "unknown learner": (["run", "--task", "{good}", "--learner", "svm"], "unknown learner 'svm'"),
    "unknown dtype": (["run", "--dtype", "float8"], "--dtype"),
    "unknown schedule": (["run", "--schedule", "fast"], "--schedule"),
    "unknown early stopping": (["run", "--early-stopping", "never"], "--early-stopping"),
    "unknown weak pool": (["run", "--weak-pool", "dirty"], "--weak-pool"),
    "data seed text": (["run", "--data-seed", "abc"], "--data-seed"),
    "test size text": (["run", "--test-size", "many"], "--test-size"),
    "weak cost text": (["run", "--weak-cost", "cheap"], "--weak-cost"),
    "strong model a file": (["run", "--task", "{good}", "--strong-model", "{a_file}"], "cannot be loaded"),
    "weak model a folder that cannot load": (
        ["run", "--task", "{good}", "--weak-model", "{bad_model}"],
        "has no weights",
    ),
    "weak model of a tweet task, not a model": (["run", "--weak-model", "tweet-sentiment"], "unknown model"),
    # -- sweep: flags used or refused
    "sweep task and tasks differ": (
        [*DRY, "--task", "{good}", "--tasks", "tweet-sentiment"],
        "the run template's task is",
    ),
    "sweep budget the grid drops": ([*DRY, "--budget", "20"], "the run template's budget is 20"),
    "sweep seed the grid drops": ([*DRY, "--seed", "9"], "the run template's seed is 9"),
    "sweep method the grid drops": ([*DRY, "--method", "icl"], "the run template's method is 'icl'"),
    "sweep weak cost the grid drops": ([*DRY, "--weak-cost", "0.2"], "the run template's weak_cost is 0.2"),
    "sweep fraction the grid drops": (
        [*DRY, "--hq-fraction", "0.3"],
        "the run template's hq_fraction is 0.3",
    ),
    "sweep weak labels and sources differ": (
        [*DRY, "--weak-labels", "column:p", "--weak-sources", "trained"],
        "the run template's weak_labels is 'column:p'",
    ),
    "sweep file and flags": (
        ["sweep", "{sweep_empty_axis}", "--budgets", "16"],
        "--budgets would be ignored",
    ),
    "sweep preset and flags": (["sweep", "--preset", "demo", "--task", "{good}"], "--task would be ignored"),
    "sweep preset and a grid flag": (
        ["sweep", "--preset", "paper", "--seeds", "0"],
        "--seeds would be ignored",
    ),
    "sweep file and preset": (["sweep", "{sweep_empty_axis}", "--preset", "demo"], "both a sweep file"),
    "sweep max runs without adaptive": (
        [*DRY, "--max-runs", "10"],
        "--max-runs applies only with --adaptive",
    ),
    "sweep batch without adaptive": ([*DRY, "--batch", "4"], "--batch applies only with --adaptive"),
    "sweep ray address locally": (
        [*DRY, "--ray-address", "auto"],
        "--ray-address applies only with --executor ray",
    ),
    "sweep cpus per run locally": (
        [*DRY, "--cpus-per-run", "2"],
        "--cpus-per-run applies only with --executor ray",
    ),
    "sweep gpus per run locally": (
        [*DRY, "--gpus-per-run", "1"],
        "--gpus-per-run applies only with --executor ray",
    ),
    "sweep dry run of an adaptive sweep": ([*DRY, "--adaptive"], "--dry-run lists the whole grid"),
    "sweep unknown executor": ([*DRY, "--executor", "slurm"], "unknown executor 'slurm'"),
    "sweep adaptive with no runs": (
        ["sweep", "--adaptive", "--max-runs", "0"],
        "--max-runs must be at least 1",
    ),
    # -- sweep: the dry run checks what the sweep checks
    "sweep dry run of a missing weak file": (
        [*DRY, "--weak-sources", "file:/nonexistent.csv", "--budgets", "16", "--seeds", "0"],
        "weak-label file /nonexistent.csv does not exist",
    ),
    "sweep dry run of a column on the embedded task": (
        [*DRY, "--weak-sources", "column:p", "--budgets", "16", "--seeds", "0"],
        "needs a task file",
    ),
    "sweep dry run of a column the file lacks": (
        [
            *DRY,
            "--test-size",
            "40",
            "--task",
            "{good}",
            "--weak-labels",
            "column:nope",
            "--budgets",
            "16",
            "--seeds",
            "0",
        ],
        "no weak-label column 'nope'",
    ),
    "sweep dry run of a missing task": (
        [*DRY, "--task", "{tmp}/nope.csv", "--budgets", "16"],
        "does not exist",
    ),
    "sweep dry run of three classes, too few": ([*DRY, "--task", "{multi}"], "10 examples per class"),
    "sweep dry run of both labels": ([*DRY, "--task", "{both_labels}"], "more than one label"),
    "sweep dry run of a person as oracle": ([*DRY, "--oracle", "file"], "a sweep cannot stop to wait"),
    "sweep dry run of a person as a source": (
        [*DRY, "--source", "w=trained@0.1", "--source", "me=file@1"],
        "(--source me=file@1), and a sweep cannot stop to wait",
    ),
    "sweep dry run of an unknown method": ([*DRY, "--methods", "magic"], "unknown method 'magic'"),
    "sweep dry run of an unknown learner": ([*DRY, "--learner", "svm"], "unknown learner 'svm'"),
    "sweep dry run of an unknown strong model": (
        [*DRY, "--task", "{good}", "--strong-model", "no-such-org/none"],
        "unknown model 'no-such-org/none'",
    ),
    "sweep negative hq-only budget": ([*DRY, "--hq-only-budgets", "-8"], "budgets must be positive"),
    "sweep negative small-stage seed": ([*DRY, "--small-stage-seeds", "-1"], "seeds must be non-negative"),
    "sweep weak cost above one": ([*DRY, "--weak-costs", "2"], "weak_costs must be prices in (0, 1]"),
    "sweep fraction above one": ([*DRY, "--hq-fractions", "2"], "hq_fractions must be fractions in [0, 1]"),
    "sweep with a link in the results": (
        ["sweep", R, "{linked_artifacts}", "--budgets", "16"],
        "is a symbolic link",
    ),
    # -- sweep files: fields used or refused, and what only the checks find
    "sweep file: task twice": (["sweep", "{sweep_task_twice}"], "the run template's task is"),
    "sweep file: budget dropped": (["sweep", "{sweep_budget_dropped}"], "budget is 20"),
    "sweep file: seed dropped": (["sweep", "{sweep_seed_dropped}"], "seed is 7"),
    "sweep file: method dropped": (["sweep", "{sweep_method_dropped}"], "method is 'icl'"),
    "sweep file: weak labels twice": (["sweep", "{sweep_weak_twice}"], "weak_labels is 'column:p'"),
    "sweep file: seeds in exponent notation": (
        ["sweep", "{sweep_exponent_seed}"],
        "seeds: must be a list of integers",
    ),
    "sweep file: negative hq-only budget": (
        ["sweep", "{sweep_hq_only_negative}"],
        "budgets must be positive",
    ),
    "sweep file: negative small-stage seed": (["sweep", "{sweep_small_seeds_negative}"], "non-negative"),
    "sweep file: method fractions not lists": (
        ["sweep", "{sweep_method_fractions}"],
        "must map methods to lists",
    ),
    "sweep file: no tasks": (["sweep", "{sweep_tasks_empty}"], "the sweep's tasks is empty"),
    "sweep file: weak sources a scalar": (
        ["sweep", "{sweep_weak_sources_scalar}"],
        "weak_sources must be a list",
    ),
    "sweep file: an alias": (["sweep", "{sweep_alias}"], "YAML aliases (*name) are not allowed"),
    "sweep file: template a list": (["sweep", "{sweep_template_list}"], "template must be a mapping"),
    "sweep file: test size of one": (["sweep", "{sweep_template_task_number}"], "must be at least 2, got 1"),
    "sweep file: negative seed in the template": (
        ["sweep", "{sweep_template_seed_negative}"],
        "seed: must be >= 0",
    ),
    "sweep file: unknown method": (["sweep", "{sweep_unknown_method}"], "unknown method 'magic'"),
    "sweep file: a person as oracle": (["sweep", "{sweep_person}"], "a sweep cannot stop to wait"),
    "sweep file: a missing task file": (["sweep", "{sweep_missing_task}"], "does not exist"),
    "sweep file: a task of three classes, too few": (
        ["sweep", "{sweep_bad_task_file}"],
        "10 examples per class",
    ),
    "sweep file: over a megabyte": (["sweep", "{sweep_big}"], "sweep files are at most 1,000,000"),
    "sweep file: nested too deeply": (["sweep", "{sweep_deep}"], "nested too deeply"),
    "sweep file: a JSON list": (["sweep", "{sweep_json_list}"], "must hold a mapping"),
    "sweep file: a txt": (["sweep", "{sweep_txt}"], "could not parse"),
    # -- weak: the labels it measures, and its task
    "weak: a column the file lacks": (
        ["weak", "--test-size", "40", "--task", "{good}", "--weak-labels", "column:nope"],
        "no weak-label",
    ),
    "weak: a missing predictions file": (
        ["weak", "--test-size", "40", "--task", "{good}", "--weak-labels", "file:{tmp}/x.csv"],
        "does not",
    ),
    "weak: an unknown source": (["weak", "--weak-labels", "magic"], "unknown label source 'magic'"),
    "weak: an HQ source": (["weak", "--weak-labels", "ground-truth"], "sells hq labels"),
    "weak: a missing task": (["weak", "--task", "{tmp}/nope.csv"], "does not exist"),
    "weak: an unknown model": (
        ["weak", "--test-size", "40", "--task", "{good}", "--weak-model", "nope-model"],
        "unknown model",
    ),
    "weak: a task without gold": (
        ["weak", "--test-size", "40", "--task", "{good}", "--unlabeled", "--weak-labels", "column:label"],
        "nothing to measure",
    ),
    "weak: results a file": (["weak", "--task", "{good}", R, "{a_file}"], "is a file, not a folder"),
    "weak: a link in the results": (
        ["weak", "--task", "{good}", R, "{linked_labeling}"],
        "is a symbolic link",
    ),
    "weak: target accuracy of a coin": (["weak", "--weak-target-accuracy", "0.4"], "weak_target_accuracy"),
    "weak: a task file of blank lines": (["weak", "--task", "{only_blank_lines}"], "no examples"),
    # -- plan and report
    "plan zero budget": (["plan", "--budget", "0"], "--budget must be a positive number"),
    "plan NaN budget": (["plan", "--budget", "nan"], "--budget must be a positive number"),
    "plan weak cost above one": (
        ["plan", "--budget", "64", "--weak-cost", "1.5"],
        "--weak-cost must be in (0, 1]",
    ),
    "plan without a budget": (["plan"], "--budget"),
    "plan budget text": (["plan", "--budget", "lots"], "--budget"),
    "plan newer store": (["plan", "--budget", "64", R, "{newer}"], "newer than this labelbudget"),
    "report results a file": (["report", R, "{a_file}"], "is a file, not a folder"),
    "report newer store": (["report", R, "{newer}"], "newer than this labelbudget"),
    "report json of an empty folder": (["report", "--json", R, "{tmp}/empty"], "no stored runs"),
    "report html a link": (["report", R, "{linked_report}"], "report.html is a symbolic link"),
    "report csv a link": (["report", R, "{linked_csv}"], "report.csv is a symbolic link"),
    "report with a linked request folder": (["report", R, "{linked_request}"], "abc123 is a symbolic link"),
    "report out named csv": (["report", "--out", "{tmp}/r.csv"], "names the CSV"),
    "report out over the store": (
        ["report", "--out", "{tmp}/results/labelbudget.sqlite"],
        "over the results store",
    ),
    "report out a folder": (["report", "--out", "{bad_model}"], "would write over the folder"),
    # -- predict: what it writes, and what it reads
    "predict over its input": (
        [*P, "{probe}", "--input", "{new_csv}", "--output", "{new_csv}"],
        "is the input file",
    ),
    "predict over a link to its input": (
        [*P, "{probe}", "--input", "{new_csv}", "--output", "{new_link}"],
        "is the input file",
    ),
    "predict over model.json": (
        [*P, "{probe}", "--input", "{new_csv}", "--output", "{probe}/model.json"],
        "inside the model folder",
    ),
    "predict over the state": (
        [*P, "{lora}", "--input", "{new_csv}", "--output", "{lora}/state.safetensors"],
        "inside the model folder",
    ),
    "predict into the adapter": (
        [*P, "{lora}", "--input", "{new_csv}", "--output", "{lora}/adapter/p.csv"],
        "inside the model folder",
    ),
    "predict onto a folder": (
        [*P, "{probe}", "--input", "{new_csv}", "--output", "{bad_model}"],
        "is a folder",
    ),
    "predict to an xlsx": (
        [*P, "{probe}", "--input", "{new_csv}", "--output", "{tmp}/p.xlsx"],
        "type '.xlsx'",
    ),
    "predict a header only": ([*P, "{probe}", "--input", "{new_header_only}"], "has no rows to score"),
    "predict an empty file": ([*P, "{probe}", "--input", "{new_zero}"], "could not parse"),
    "predict without the text column": (
        [*P, "{probe}", "--input", "{new_no_text}"],
        "has no text column 'text'",
    ),
    "predict a txt": ([*P, "{probe}", "--input", "{new_txt}"], "is not .csv, .tsv or .jsonl"),
    "predict a folder": ([*P, "{probe}", "--input", "{new_folder}"], "does not exist or is not"),
    "predict a missing input": ([*P, "{probe}", "--input", "{tmp}/none.csv"], "does not exist or is not"),
    "predict a file with p1": ([*P, "{probe}", "--input", "{new_p1}"], "already has a column 'p1'"),
    "predict a file with label_pred": (
        [*P, "{probe}", "--input", "{new_label_pred}"],
        "already has a column 'label_pred'",
    ),
    "predict only blank texts": ([*P, "{probe}", "--input", "{new_blank}"], "every row of"),
    "predict a NUL": ([*P, "{probe}", "--input", "{new_nul}"], "holds a NUL byte"),
    "predict a list text": ([*P, "{probe}", "--input", "{new_nested}"], "hold a JSON list"),
    "predict a workbook": ([*P, "{probe}", "--input", "{new_zip}"], "is a zip archive"),
    "predict a ragged csv": ([*P, "{probe}", "--input", "{new_ragged}"], "could not parse"),
    "predict carriage returns": ([*P, "{probe}", "--input", "{new_cr}"], "carriage return"),
    # -- predict: the saved model checked against itself, before any work
    "model a probe's state in a LoRA folder": (
        [*P, "{lora_probe_state}", "--input", "{new_csv}"],
        "state.safetensors is not",
    ),
    "model learner null": ([*P, "{learner_null}", "--input", "{new_csv}"], "learner is None"),
    "model learner unknown": ([*P, "{learner_svm}", "--input", "{new_csv}"], "learner is 'svm'"),
    "model.json garbage": ([*P, "{json_garbage}", "--input", "{new_csv}"], "model.json is not valid JSON"),
    "model.json a list": ([*P, "{json_list}", "--input", "{new_csv}"], "holds list, not an object"),
    "model.json empty": ([*P, "{json_empty}", "--input", "{new_csv}"], "model.json is not valid JSON"),
    "model.json not UTF-8": ([*P, "{json_latin1}", "--input", "{new_csv}"], "model.json is not valid JSON"),
    "model of format 1": ([*P, "{format_1}", "--input", "{new_csv}"], "saved in format 1"),
    "model of format 99": ([*P, "{format_99}", "--input", "{new_csv}"], "saved in format 99"),
    "model without a format": ([*P, "{no_format}", "--input", "{new_csv}"], "saved in format None"),
    "model state truncated": (
        [*P, "{state_truncated}", "--input", "{new_csv}"],
        "state.safetensors is not the file",
    ),
    "model state missing": ([*P, "{state_missing}", "--input", "{new_csv}"], "state.safetensors is missing"),
    "model state empty": ([*P, "{state_empty}", "--input", "{new_csv}"], "state.safetensors is not the file"),
    "model state a folder": (
        [*P, "{state_folder}", "--input", "{new_csv}"],
        "state.safetensors is not a file",
    ),
    "model adapter missing": (
        [*P, "{adapter_missing}", "--input", "{new_csv}"],
        "adapter_config.json is missing",
    ),
    "model adapter edited": (
        [*P, "{adapter_weights_edited}", "--input", "{new_csv}"],
        "adapter/adapter_model.safetensors is not the file",
    ),
    "model adapter with a pickle": (
        [*P, "{adapter_extra}", "--input", "{new_csv}"],
        "adapter/adapter_model.bin",
    ),
    "model without digests": ([*P, "{no_digests}", "--input", "{new_csv}"], "lists no digest"),
    "model digests a list": ([*P, "{digests_not_a_map}", "--input", "{new_csv}"], "files is"),
    "model probe layer 99": ([*P, "{layer_99}", "--input", "{new_csv}"], "its probe reads layer 99"),
    "model probe layer negative": ([*P, "{layer_negative}", "--input", "{new_csv}"], "layer is -2"),
    "model probe layer a word": ([*P, "{layer_text}", "--input", "{new_csv}"], "layer is 'middle'"),
    "model probe depth 2": ([*P, "{depth_2}", "--input", "{new_csv}"], "depth is 2"),
    "model lora rank 0": ([*P, "{lora_rank_0}", "--input", "{new_csv}"], "lora_rank is 0"),
    "model pooling max": ([*P, "{pooling_max}", "--input", "{new_csv}"], "pooling is 'max'"),
    "model dtype int8": ([*P, "{dtype_int8}", "--input", "{new_csv}"], "dtype is 'int8'"),
    "model text column null": ([*P, "{text_column_null}", "--input", "{new_csv}"], "text_column is None"),
    "model label map not ids": ([*P, "{label_map_bad}", "--input", "{new_csv}"], "label_map is"),
    "model without classes": ([*P, "{classes_missing}", "--input", "{new_csv}"], "classes is None"),
    "model of one class": ([*P, "{classes_one}", "--input", "{new_csv}"], "classes is ['a']"),
    "model width zero": ([*P, "{hidden_zero}", "--input", "{new_csv}"], "hidden_size is 0"),
    "model base model empty": ([*P, "{strong_empty}", "--input", "{new_csv}"], "strong_model is ''"),
    "model base model unknown": ([*P, "{strong_unknown}", "--input", "{new_csv}"], "unknown model"),
    "model another base model": (
        [*P, "{strong_other}", "--input", "{new_csv}"],
        "is not the one it was trained on",
    ),
    "model a file": ([*P, "{model_is_a_file}", "--input", "{new_csv}"], "not a folder"),
    "model an empty folder": ([*P, "{model_empty_folder}", "--input", "{new_csv}"], "no model.json"),
    "model missing": ([*P, "{tmp}/no-model", "--input", "{new_csv}"], "not a saved labelbudget model"),
    "predict without an input": ([*P, "{probe}"], "--input"),
}

CASES |= MORE_CASES


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_decoder, tiny_encoder) -> dict[str, Path]:
    """A probe and a LoRA model, saved once for the table (its cases copy them)."""
    return save_models(tmp_path_factory.mktemp("models"), tiny_decoder, tiny_encoder)


@pytest.fixture
def env(tmp_path, monkeypatch, models):
    """Input files, stores (corrupt, newer, foreign) and a good results folder with one run,
    all under tmp_path; the working directory is tmp_path (the default `results/` lands there).
    The rest of the table's inputs are made when a case names them (`Inputs`)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABELBUDGET_CACHE", str(tmp_path / "cache"))
    f = {k: str(v) for k, v in _files(tmp_path).items()}
    Store(tmp_path / "results").add(make_record())  # the default --results: must survive
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "labelbudget.sqlite").write_text("this is not a database, it is a text file " * 40)
    newer = tmp_path / "newer"
    Store(newer).add(make_record())
    with closing(sqlite3.connect(newer / "labelbudget.sqlite")) as con:
        con.execute("PRAGMA user_version = 99")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with closing(sqlite3.connect(foreign / "labelbudget.sqlite")) as con:
        con.execute("CREATE TABLE photos (id INTEGER)")
    for name, text in SWEEPS.items():
        path = tmp_path / f"sweep_{name.replace(' ', '_')}.yaml"
        path.write_text(text)
        f[f"sweep_{name.replace(' ', '_')}"] = str(path)
    (tmp_path / "dupe.json").write_text('{"budgets": [16], "budgets": [64]}')
    f["sweep_json_dupe"] = str(tmp_path / "dupe.json")
    stores = {"tmp": str(tmp_path), "corrupt": str(corrupt), "newer": str(newer), "foreign": str(foreign)}
    return Inputs(tmp_path, models, {**stores, **f})


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (SQLite's -wal/-shm side files aside) and its content hash, plus
    the store's rows."""
    out = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }
    for store in root.rglob("labelbudget.sqlite"):
        try:
            out[f"rows of {store}"] = str(sorted(Store(store.parent).run_keys().values()))
        except Exception as e:  # a corrupt store stays exactly as corrupt
            out[f"rows of {store}"] = type(e).__name__
    return out


def test_there_are_at_least_250_cases():
    assert len(CASES) >= 250


class TookTooLong(BaseException):
    """Not an Exception: `main` must not turn it into an exit code."""


def _took_too_long(signum, frame):
    raise TookTooLong("the case ran for 2 minutes: it was not refused before the work began")


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_error_and_changes_nothing(case, env, tmp_path, capsys):
    args, expected = CASES[case]
    args = [a.format_map(env) for a in args]
    before = snapshot(tmp_path)
    signal.signal(signal.SIGALRM, _took_too_long)
    signal.alarm(120)  # a case that starts real work fails here instead of training for an hour
    try:
        code = main(args)
    except SystemExit as e:  # tyro's own usage errors (a flag's type, an unknown flag)
        code = e.code
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert expected in err, err
    if err.startswith("labelbudget: error: "):
        lines = err.strip().splitlines()
        assert len(lines) == 2 and lines[1].strip().startswith("fix: "), err
    else:  # tyro's box: the flag's problem and where help is
        assert "labelbudget" in err and "--help" in err, err
    assert snapshot(tmp_path) == before
    assert not [p for p in tmp_path.rglob("artifacts") if not p.is_symlink()]


def test_read_only_results_folder_is_refused_before_any_work(env, tmp_path, capsys):
    """A read-only filesystem (a tmpfs mounted read-only; root may write anywhere else)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        assert main(["run", "--task", env["good"], "--results", str(ro / "results")]) == 2
        err = capsys.readouterr().err
        assert "is not writable" in err and "fix: " in err and "Traceback" not in err
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "labelbudget", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_as_a_user_types_it_one_message_and_debug_shows_the_traceback(tmp_path):
    out = cli("run", "--budget", "inf", "--results", tmp_path / "r")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("labelbudget: error: budget: must be a finite number")
    debug = cli("run", "--budget", "inf", "--results", tmp_path / "r", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert not (tmp_path / "r").exists()


def test_list_names_tasks_methods_and_models():
    out = cli("list")
    assert out.returncode == 0
    for name in ("tweet-sentiment", "seq_sft", "gemma-3-270m", "minilm-l6", "smollm2-135m"):
        assert name in out.stdout


def test_weak_measures_any_weak_labels_against_the_gold_test_split(tmp_path):
    from labelbudget.tasks import load_task

    data = synthetic_texts(200, seed=4)
    flip = np.random.default_rng(1).random(len(data)) < 0.25
    data["p"] = np.where(flip, 1 - data["label"], data["label"]) * 0.8 + 0.1
    data.loc[:9, "p"] = np.nan  # rows without a weak label
    path = tmp_path / "mine.csv"
    data.to_csv(path, index=False)
    out = cli(
        "weak", "--task", path, "--test-size", 40, "--weak-labels", "column:p", "--results", tmp_path / "r"
    )
    assert out.returncode == 0, out.stderr
    task = load_task(TaskConfig(task=str(path), test_size=40))
    p = data.set_index("text")["p"]
    test = [(p[t], y) for t, y in zip(task.test.texts, task.test.labels, strict=True) if not np.isnan(p[t])]
    accuracy = np.mean([(v > 0.5) == y for v, y in test])
    assert f"on {len(test)} test texts accuracy {accuracy:.3f}" in out.stdout, out.stdout
    assert "calibration error" in out.stdout and "gold 1 labeled 0/1" in out.stdout


def test_labels_files_after_one_flag_or_each_after_its_own():
    """`--labels-file A B` (as people type it) and `--labels-file A --labels-file B` (as the
    waiting message says) give the run the same files, in order."""
    import tyro

    from labelbudget.__main__ import Command

    def files(*argv: str) -> list[Path]:
        return tyro.cli(Command, args=["run", *argv]).labels_files

    assert files("--labels-file", "a.csv", "b.csv") == [Path("a.csv"), Path("b.csv")]
    assert files("--labels-file", "a.csv", "--labels-file", "b.csv") == [Path("a.csv"), Path("b.csv")]
    assert files("--labels-file", "a.csv", "b.csv", "--labels-file", "c.json") == [
        Path("a.csv"),
        Path("b.csv"),
        Path("c.json"),
    ]
    assert files() == []


@pytest.mark.parametrize(
    "error, said",
    [
        (OSError("4096 requested and 0 written"), "a write came up short (4096 requested and 0 written)"),
        (OSError(errno.ENOSPC, "No space left on device", "x.npy"), "could not write x.npy: No space left"),
    ],
)
def test_a_full_disk_during_a_run_is_one_message(error, said, monkeypatch, tmp_path, capsys):
    """numpy's `np.save` on a full disk raises an OSError without an errno ("N requested and M
    written"): the machine's error, said as such, not a labelbudget bug."""

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr("labelbudget.runs.run.run", full)
    assert main(["run", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert said in err and "fix: free disk space" in err and len(err.strip().splitlines()) == 2, err
