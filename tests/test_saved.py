"""The classifier a run paid for: `--save-model` saves it, `predict` scores new texts with it, and
its scores on the run's test set equal the run's stored test predictions (both learners)."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_texts

from labelbudget.__main__ import main
from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig
from labelbudget.learners.saved import SavedModel, predict_file, predict_rows
from labelbudget.runs.record import decode_predictions
from labelbudget.runs.run import run
from labelbudget.tasks import load_task
from labelbudget.util.atomic import load_state
from labelbudget.util.errors import UserError


@pytest.mark.parametrize("learner", ["probe", "lora"])
def test_a_saved_model_scores_the_test_set_as_the_run_did(tiny_config, tmp_path, learner):
    cfg = dataclasses.replace(tiny_config, learner=learner, method="uncertainty")
    record, ran = run(cfg, tmp_path / "results", save_model=tmp_path / "model")
    assert ran and (tmp_path / "model" / "model.json").is_file()
    if learner == "lora":
        assert (tmp_path / "model" / "adapter" / "adapter_config.json").is_file()  # peft's own format
    stored, labels = decode_predictions(record.predictions)
    task = load_task(cfg.task)
    saved = SavedModel(tmp_path / "model")
    scores = saved.score(task.test.texts)  # (n, 2) logits; the record stores their difference
    assert scores.shape == stored.shape == (len(task.test), 2)
    np.testing.assert_allclose(scores[:, 1] - scores[:, 0], stored[:, 1] - stored[:, 0], atol=2e-3)
    # predict: the same rows plus P(1) as before, a probability per class, and the label
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": task.test.texts, "other": range(len(task.test))}).to_csv(data, index=False)
    out = pd.read_csv(predict_file(tmp_path / "model", data))
    assert list(out.columns) == ["text", "other", "p1", "p_0", "p_1", "label_pred"] and len(out) == len(
        task.test
    )
    p1 = 1 / (1 + np.exp(-(stored[:, 1] - stored[:, 0]).astype(float)))
    np.testing.assert_allclose(out["p1"], p1, atol=1e-3)
    assert ((out["p1"] > 0.5).astype(int) == out["label_pred"]).all()


def test_save_model_refusals_come_before_any_work(tiny_config, tmp_path):
    with pytest.raises(UserError, match="cannot save a prompted_seq_sft run"):
        run(dataclasses.replace(tiny_config, method="prompted_seq_sft"), tmp_path, save_model=tmp_path / "m")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UserError, match="exists and is not an empty folder"):
        run(dataclasses.replace(tiny_config, learner="probe"), tmp_path, save_model=tmp_path / "full")
    assert not (tmp_path / "labelbudget.sqlite").exists()
    cfg = dataclasses.replace(tiny_config, learner="probe")
    run(cfg, tmp_path)
    with pytest.raises(UserError, match="already stored"):
        run(cfg, tmp_path, save_model=tmp_path / "m2")
    with pytest.raises(UserError, match="not a saved labelbudget model"):
        SavedModel(tmp_path)


# --- a saved model is checked against itself; predict writes only where it should -------------


def save_models(root: Path, tiny_decoder: str, tiny_encoder: str) -> dict[str, Path]:
    """A probe and a LoRA model saved under `root` (and the task file they were trained on, whose
    classes are `=1+1`, a formula as a spreadsheet reads it, and `neg`)."""
    data = synthetic_texts(400)
    data["weak"] = np.where(data["label"] == 1, 0.8, 0.2)  # weak labels from a column: nothing to train
    data["label"] = np.where(data["label"] == 1, FORMULA_CLASS, "neg")
    data.to_csv(root / "task.csv", index=False)
    cfg = RunConfig(
        task=TaskConfig(task=str(root / "task.csv"), test_size=40, label_map={FORMULA_CLASS: 1, "neg": 0}),
        weak=WeakConfig(weak_model=tiny_encoder),
        weak_labels="column:weak",
        train=TrainConfig(example_visits=64, batch_size=8, eval_batch_size=32),
        strong_model=tiny_decoder,
        method="uncertainty",
        budget=8,
        weak_cost=0.1,
        hq_fraction=0.5,
    )
    for learner in ("probe", "lora"):
        run(dataclasses.replace(cfg, learner=learner), root / "results", save_model=root / learner)
    return {"probe": root / "probe", "lora": root / "lora", "task": root / "task.csv"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_decoder, tiny_encoder) -> dict[str, Path]:
    """Saved once for this module's tests (copy one to change it)."""
    return save_models(tmp_path_factory.mktemp("saved"), tiny_decoder, tiny_encoder)


FORMULA_CLASS = "=1+1"


def _copy(saved: dict[str, Path], learner: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved[learner], tmp_path / f"model-{learner}"))


def _edit_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, **changes}))


def _redigest(folder: Path) -> None:
    """Record the folder's files as they are now (as if saved so)."""
    from labelbudget.learners.saved_format import digests

    _edit_meta(folder, files=digests(folder))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _swap_state(folder: Path, saved: dict[str, Path]) -> None:
    shutil.copy(saved["probe"] / "state.safetensors", folder / "state.safetensors")


def _narrow_model(folder: Path, tmp_path: Path) -> None:
    """Point model.json at another base model, 16 wide (and forget the fingerprint)."""
    import torch
    from transformers import BertConfig, BertModel

    from labelbudget.models.backbone import EMBEDDED

    torch.manual_seed(0)
    other = tmp_path / "narrow"
    BertModel(
        BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(other)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(EMBEDDED["minilm-l6"].locate() / name, other / name)
    _edit_meta(folder, strong_model=str(other), strong_fingerprint=None)


DAMAGE = {
    # name: (learner, what is done to the folder, the message)
    "a probe's state in a LoRA folder": (
        "lora",
        _swap_state,
        "state.safetensors is not the file it was saved",
    ),
    "learner null": ("lora", lambda f, s: _edit_meta(f, learner=None), "model.json's learner is None"),
    "learner unknown": ("probe", lambda f, s: _edit_meta(f, learner="svm"), "model.json's learner is 'svm'"),
    "garbage model.json": (
        "probe",
        lambda f, s: (f / "model.json").write_text("{not json"),
        "model.json is not valid JSON",
    ),
    "model.json a list": (
        "probe",
        lambda f, s: (f / "model.json").write_text("[]"),
        "holds list, not an object",
    ),
    "older format": ("probe", lambda f, s: _edit_meta(f, format=1), "saved in format 1"),
    "truncated state": (
        "probe",
        lambda f, s: _truncate(f / "state.safetensors"),
        "state.safetensors is not the file it was saved with",
    ),
    "missing state": (
        "probe",
        lambda f, s: (f / "state.safetensors").unlink(),
        "state.safetensors is missing",
    ),
    "missing adapter": (
        "lora",
        lambda f, s: shutil.rmtree(f / "adapter"),
        "adapter/adapter_config.json is missing",
    ),
    "edited adapter config": (
        "lora",
        lambda f, s: (f / "adapter" / "adapter_config.json").write_text("{}"),
        "adapter/adapter_config.json is not the file it was saved with",
    ),
    "an extra adapter file": (
        "lora",
        lambda f, s: (f / "adapter" / "adapter_model.bin").write_bytes(b"pickle"),
        "adapter/ holds files it was not saved with (adapter/adapter_model.bin)",
    ),
    "no digests": (
        "probe",
        lambda f, s: _edit_meta(f, files={}),
        "lists no digest for ['state.safetensors']",
    ),
    "probe layer out of range": ("probe", lambda f, s: _edit_meta(f, layer=99), "its probe reads layer 99"),
    "probe layer negative": ("probe", lambda f, s: _edit_meta(f, layer=-1), "model.json's layer is -1"),
    "label map not 0/1": ("probe", lambda f, s: _edit_meta(f, label_map={"a": 2}), "model.json's label_map"),
    "another base model": (
        "probe",
        lambda f, s: _edit_meta(f, strong_model=s["tiny_encoder"]),
        "is not the one it was trained on",
    ),
    "a base model of another width": (
        "lora",
        lambda f, s: _narrow_model(f, s["tmp"]),
        "has width 16, the head in",
    ),
    "a state of other shapes": (
        "probe",
        lambda f, s: (_swap_state(f, {"probe": s["lora"]}), _redigest(f)),
        "not the probe head it was saved with",
    ),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_predict_checks_the_saved_model_before_any_work(
    case, saved, tmp_path, tiny_encoder, monkeypatch, capsys
):
    """One message naming the problem, exit 2, nothing written, the base model never loaded."""
    learner, damage, expected = DAMAGE[case]
    folder = _copy(saved, learner, tmp_path)
    damage(folder, {**saved, "tiny_encoder": tiny_encoder, "tmp": tmp_path})

    def heavy(*args, **kwargs):
        raise AssertionError("the base model was loaded before the checks")

    monkeypatch.setattr("labelbudget.models.backbone.load_backbone", heavy)
    monkeypatch.setattr("labelbudget.models.activations.extract_layers", heavy)
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": ["a good film", "an awful film"]}).to_csv(data, index=False)
    assert main(["predict", "--model", str(folder), "--input", str(data)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.startswith("labelbudget: error: ") and "\n  fix: " in err, err
    assert len(err.strip().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["new.csv"]


def test_predict_writes_neither_over_its_input_nor_into_the_model(saved, tmp_path, capsys):
    folder = _copy(saved, "probe", tmp_path)
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": ["a good film", "an awful film"]}).to_csv(data, index=False)
    before = {p: p.read_bytes() for p in [data, *folder.rglob("*")] if p.is_file()}
    (tmp_path / "link.csv").symlink_to(data)
    for output, expected in (
        (data, "is the input file"),
        (tmp_path / "link.csv", "is the input file"),
        (folder / "model.json", "inside the model folder"),
        (folder / "new.csv", "inside the model folder"),
        (folder, "inside the model folder"),
        (tmp_path / "out.xlsx", "predictions are written as .csv, .tsv or .jsonl"),
    ):
        assert main(["predict", "--model", str(folder), "--input", str(data), "--output", str(output)]) == 2
        assert expected in capsys.readouterr().err
    assert {p: p.read_bytes() for p in before} == before
    assert not (folder / "new.csv").exists()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_rows_without_a_text_are_kept_unscored_and_counted(saved, tmp_path, suffix, capsys):
    """4 rows in, 4 rows out, in order: the blank ones with empty p1 and label_pred, said."""
    data = tmp_path / f"new{suffix}"
    if suffix == ".csv":
        data.write_text('text,n\na good film,1\n"   ",2\n,3\nan awful film,4\n')
    else:
        rows = [{"text": "a good film", "n": 1}, {"text": "   ", "n": 2}, {"text": None, "n": 3}]
        rows.append({"text": "an awful film", "n": 4})
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["predict", "--model", str(saved["probe"]), "--input", str(data)]) == 0
    assert "(2 of 4 rows scored; 2 rows without a text left unscored" in capsys.readouterr().out
    out = tmp_path / f"new.predictions{suffix}"
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_json(out, lines=True)
    assert table["n"].tolist() == [1, 2, 3, 4]
    assert table["p1"].isna().tolist() == [False, True, True, False]
    assert table["label_pred"].isna().tolist() == [False, True, True, False]


def test_a_one_column_file_keeps_its_empty_lines_as_rows(saved, tmp_path):
    data = tmp_path / "new.csv"
    data.write_text("text\na good film\n   \n\nan awful film\n")
    done = predict_rows(saved["probe"], data)
    assert (done.rows, done.blank) == (4, 2)
    assert pd.read_csv(done.path)["p1"].isna().tolist() == [False, True, True, False]


def test_predicted_labels_are_guarded_in_a_csv_and_exact_in_jsonl(saved, tmp_path):
    """The label map's class names go into label_pred: `=1+1` is a formula to a spreadsheet."""
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": [f"{w} film {i}" for i, w in enumerate(["good", "awful"] * 10)]}).to_csv(
        data, index=False
    )
    in_csv = pd.read_csv(predict_file(saved["probe"], data), dtype=str)
    in_jsonl = pd.read_json(predict_file(saved["probe"], data, tmp_path / "out.jsonl"), lines=True, dtype=str)
    assert set(in_csv["label_pred"]) <= {"'" + FORMULA_CLASS, "neg"}
    assert set(in_jsonl["label_pred"]) <= {FORMULA_CLASS, "neg"}
    assert (in_csv["label_pred"] == "neg").tolist() == (in_jsonl["label_pred"] == "neg").tolist()


def test_the_lora_model_scores_with_the_adapter_it_saved(saved, tmp_path):
    """`adapter/` is what predict loads (the head stays in state.safetensors): with other LoRA
    weights in it (and the digests recorded again), the scores change."""
    from safetensors.torch import load_file, save_file

    texts = [f"{w} film {i}" for i, w in enumerate(["good", "awful"] * 8)]
    folder = _copy(saved, "lora", tmp_path)
    assert not set(load_state(folder / "state.safetensors")[0]) - {"head.weight"}
    as_saved = SavedModel(folder).score(texts)
    weights = folder / "adapter" / "adapter_model.safetensors"
    save_file({k: v + 5.0 if "lora_B" in k else v for k, v in load_file(weights).items()}, weights)
    _redigest(folder)
    other = SavedModel(folder).score(texts)
    assert (np.abs(as_saved - other) > 1e-2).all()  # 5x the tolerance within which it scores as the run
