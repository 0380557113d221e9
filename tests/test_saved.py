"""The classifier a run paid for: `--save-model` saves it, `predict` scores new texts with it, and
its scores on the run's test set equal the run's stored test predictions (both learners)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from labelbudget.learners.saved import SavedModel, predict_file
from labelbudget.runs.record import decode_predictions
from labelbudget.runs.run import run
from labelbudget.tasks import load_task
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
    np.testing.assert_allclose(saved.score(task.test.texts), stored, atol=2e-3)
    # predict: the same rows plus P(1) and the label
    data = tmp_path / "new.csv"
    pd.DataFrame({"text": task.test.texts, "other": range(len(task.test))}).to_csv(data, index=False)
    out = pd.read_csv(predict_file(tmp_path / "model", data))
    assert list(out.columns) == ["text", "other", "p1", "label_pred"] and len(out) == len(task.test)
    np.testing.assert_allclose(out["p1"], 1 / (1 + np.exp(-stored.astype(float))), atol=1e-3)
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
