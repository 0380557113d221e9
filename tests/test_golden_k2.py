"""K = 2 with the default sources gives the records it gave before K classes and several sources
(`tests/data/golden_k2/golden.json`, written by labelbudget 0724655: every method and learner on
tiny models, fp32). The canonical config (a run's identity), what was bought, the stages and the
weak labels' quality are compared exactly; metrics and every test log-odds to float tolerance,
since another CPU's fp32 kernels round differently (on the machine that wrote the file they are
bit-identical: the note of the change that added this test says so).

A probe's activations are extracted in the CPU's own precision (bf16 where it is native, as the
classifier's `auto`), so the reference is kept for both kinds of CPU: `golden.json` (native bf16)
and `golden_fp32.json` (written by the same code with `LABELBUDGET_NATIVE_BF16=0`); the test reads
the one for the CPU it runs on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_cases import CASES, configs, summary


def _reference() -> dict:
    import torch

    from labelbudget.models.backbone import native_bf16

    name = "golden.json" if native_bf16(torch.device("cpu")) else "golden_fp32.json"
    return json.loads((Path(__file__).parent / "data" / "golden_k2" / name).read_text())


GOLDEN = _reference()
FLOATS = (
    "accuracy",
    "accuracy_lo",
    "accuracy_hi",
    "auroc",
    "auroc_lo",
    "auroc_hi",
    "weak_agreement",
    "weak_accuracy",
)


@pytest.fixture(scope="module")
def today(tmp_path_factory):
    from golden_cases import tiny_models

    from labelbudget.runs.run import compute

    work = tmp_path_factory.mktemp("golden")
    decoder, encoder, task = tiny_models(work)
    paths = {"decoder": decoder, "encoder": encoder, "task": task}
    return {
        name: summary(compute(c, work / "results"), paths)
        for name, c in configs(decoder, encoder, task).items()
    }


@pytest.mark.parametrize("case", CASES)
def test_a_binary_run_gives_the_record_it_gave_before(case, today):
    was, now = GOLDEN[case], today[case]
    for key in ("config", "n_weak", "n_hq", "spent", "n_test", "data_fingerprint", "labels"):
        assert now[key] == was[key], key
    for old, new in zip(was["stages"], now["stages"], strict=True):
        assert {k: v for k, v in new.items() if k != "best_metric"} == {
            k: v for k, v in old.items() if k != "best_metric"
        }
        assert new["best_metric"] == pytest.approx(old["best_metric"], abs=1e-4)
    assert now["log_odds"] == pytest.approx(was["log_odds"], abs=2e-3)
    for key in FLOATS:
        assert now[key] == pytest.approx(was[key], abs=0.03), key
    if was["weak_quality"] is not None:
        assert now["weak_quality"]["confusion"] == was["weak_quality"]["confusion"]
        for key in ("accuracy", "ece", "mean_p1"):
            assert now["weak_quality"][key] == pytest.approx(was["weak_quality"][key], abs=1e-6)


def test_a_store_written_before_answers_as_it_did(tmp_path, capsys):
    """`report --json` of the schema-2 store (binary, the pair) is what labelbudget 0724655 answered
    (`report_store_v2.jsonl`): every regime, probability, allocation and interval, exactly; the
    answer only gains the allocation per source (`counts`, `shares`)."""
    import shutil

    from labelbudget.__main__ import main

    data = Path(__file__).parent / "data"
    shutil.copy(data / "store_v2" / "labelbudget.sqlite", tmp_path / "labelbudget.sqlite")
    assert main(["report", "--results", str(tmp_path), "--json"]) == 0
    now = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    before = [
        json.loads(line) for line in (data / "golden_k2" / "report_store_v2.jsonl").read_text().splitlines()
    ]
    assert len(now) == len(before) == 32
    for old, new in zip(before, now, strict=True):
        assert {k: new[k] for k in old} == old
        assert set(new) - set(old) == {"counts", "shares"}
        assert new["counts"] == {"weak": old["n_weak"], "hq": old["n_hq"]}
