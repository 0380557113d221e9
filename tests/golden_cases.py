"""Binary runs of every method and learner on tiny models: the cases of the K = 2 reference
(`tests/data/golden_k2/`), built the same way by its generator and by `test_golden_k2.py`."""

from __future__ import annotations

import base64
import dataclasses
import shutil
from pathlib import Path

import numpy as np

CASES = (
    "seq_sft",
    "seq_sft_probe",
    "uncertainty",
    "uncertainty_probe",
    "logconf",
    "logconf_probe",
    "prompted_seq_sft",
    "icl",
    "seq_sft_column",
    "all_hq_probe",
)


def tiny_models(work: Path) -> tuple[str, str, str]:
    """The conftest's tiny Llama and BERT (same configs and seed) and its synthetic file."""
    import torch
    from conftest import synthetic_texts
    from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

    from labelbudget.models.backbone import EMBEDDED

    tokenizer = EMBEDDED["minilm-l6"].locate()

    def save(model, out: Path) -> str:
        model.save_pretrained(out)
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            shutil.copy(tokenizer / name, out / name)
        return str(out)

    torch.manual_seed(0)
    decoder = save(
        LlamaForCausalLM(
            LlamaConfig(
                vocab_size=30522,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=512,
                pad_token_id=0,
                tie_word_embeddings=True,
            )
        ),
        work / "tiny-llama",
    )
    torch.manual_seed(0)
    encoder = save(
        BertModel(
            BertConfig(
                vocab_size=30522,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=512,
            )
        ),
        work / "tiny-bert",
    )
    frame = synthetic_texts(400)
    frame["llm_p1"] = np.round(np.clip(frame["label"] * 0.7 + 0.15 + 0.1 * np.sin(np.arange(400)), 0, 1), 3)
    task = work / "synthetic.csv"
    frame.to_csv(task, index=False)
    return decoder, encoder, str(task)


def configs(decoder: str, encoder: str, task: str) -> dict:
    from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig

    base = RunConfig(
        task=TaskConfig(task=task, test_size=40),
        weak=WeakConfig(weak_model=encoder, weak_n_train=48, weak_n_val=16, weak_epochs=1),
        train=TrainConfig(example_visits=64, batch_size=8, eval_batch_size=32, dtype="float32"),
        strong_model=decoder,
        budget=8,
        weak_cost=0.1,
        hq_fraction=0.5,
        seed=3,
    )
    r = dataclasses.replace
    return {
        "seq_sft": base,
        "seq_sft_probe": r(base, learner="probe"),
        "uncertainty": r(base, method="uncertainty"),
        "uncertainty_probe": r(base, method="uncertainty", learner="probe"),
        "logconf": r(base, method="logconf"),
        "logconf_probe": r(base, method="logconf", learner="probe"),
        "prompted_seq_sft": r(base, method="prompted_seq_sft"),
        "icl": r(base, method="icl", budget=1.5, hq_fraction=0.4),
        "seq_sft_column": r(base, weak_labels="column:llm_p1"),
        "all_hq_probe": r(base, learner="probe", hq_fraction=1.0),
    }


def summary(record, paths: dict[str, str]) -> dict:
    """What K = 2 must keep: identity (the canonical config, its machine's paths named), what was
    bought, every metric, every test log-odds, the stages, the weak labels' quality."""
    import json

    keep = (
        "n_weak",
        "n_hq",
        "spent",
        "accuracy",
        "accuracy_lo",
        "accuracy_hi",
        "auroc",
        "auroc_lo",
        "auroc_hi",
        "weak_agreement",
        "n_test",
        "weak_accuracy",
        "data_fingerprint",
        "weak_quality",
    )
    out = {k: getattr(record, k) for k in keep}
    config = json.dumps(record.config, sort_keys=True)
    for name, path in paths.items():
        config = config.replace(path, f"<{name}>")
    out["config"] = json.loads(config)
    out["log_odds"] = np.frombuffer(base64.b64decode(record.predictions["log_odds"]), "<f4").tolist()
    out["labels"] = record.predictions["labels"]
    out["stages"] = [
        {
            k: s[k]
            for k in (
                "name",
                "n_train",
                "n_val",
                "total_steps",
                "steps",
                "best_step",
                "best_metric",
                "metric",
            )
        }
        for s in record.stages
    ]
    return out
