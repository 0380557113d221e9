"""The README's offline walk-through, end to end through the CLI with tiny models: simulate and
plan, run on a file without gold labels while a person (played from the hidden gold) labels the
test set and the HQ labels, save the classifier, predict new texts."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow  # about a dozen CLI processes
def test_the_walkthrough_runs_offline_end_to_end(tmp_path, tiny_encoder, tiny_decoder):
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "walkthrough.py", tmp_path, "--weak-model", tiny_encoder,
         "--strong-model", tiny_decoder, "--quick"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    (plan,) = [json.loads(line) for line in out.splitlines() if line.startswith('{"variant"')]
    # the test set is asked once; HQ labels once if the plan buys any (it depends on the models)
    assert out.count("need test labels") == 1 and out.count("need HQ labels") == int(plan["n_hq"] > 0)
    assert "evaluation spend: the 40 test labels came from you" in out
    assert "on 60 new texts: the classifier" in out and "on 60 new texts: the weak labeler" in out
    scored = pd.read_csv(tmp_path / "new.predictions.csv")
    assert len(scored) == 60 and scored["p1"].between(0, 1).all()
    assert set(pd.read_csv(tmp_path / "mine.csv").columns) == {"text"}  # no gold in the file
    assert set(pd.read_csv(tmp_path / "mine_weak.csv").columns) == {"text", "p1", "p_0", "p_1", "label_pred"}


@pytest.mark.slow  # about a dozen CLI processes
def test_the_walkthrough_with_three_classes_and_three_sources(tmp_path, tiny_encoder, tiny_decoder):
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "walkthrough.py", tmp_path, "--weak-model", tiny_encoder,
         "--strong-model", tiny_decoder, "--quick", "--three"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    (plan,) = [json.loads(line) for line in out.splitlines() if line.startswith('{"variant"')]
    assert set(plan["counts"]) == {"keyword", "minilm", "expert"}
    assert out.count("need test labels") == 1 and out.count("need expert labels") == int(
        plan["counts"]["expert"] > 0
    )
    assert "on 60 new texts: the classifier" in out
    scored = pd.read_csv(tmp_path / "new.predictions.csv")
    assert {"p_negative", "p_neutral", "p_positive", "label_pred"} <= set(scored.columns)
    assert set(scored["label_pred"]) <= {"negative", "neutral", "positive"}
    assert set(pd.read_csv(tmp_path / "mine.csv").columns) == {"text"}  # no gold in the file
    request = pd.read_csv(next(tmp_path.glob("results/labeling/test-*/to_label.csv")))
    assert set(request["label"].dropna()) <= {"negative", "neutral", "positive"}
