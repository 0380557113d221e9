"""Shared fixtures: tiny models built from configs (no hub), a synthetic labeled file, and an
isolated cache. Real-model tests are marked `slow` (they still run in CI)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# LABELBUDGET_NATIVE_BF16=1 python -m pytest runs the suite as on a CPU with native bf16
# (`dtype="auto"` then picks bf16), to prove it passes on machines of both kinds.

SHARED = Path(__file__).resolve().parents[2] / "shared"
SST2 = SHARED / "data" / "sst2"

POSITIVE = ["good", "great", "excellent", "lovely", "wonderful", "happy", "fine", "nice"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "horrible", "sad", "ugly", "boring"]
FILLER = [
    "the",
    "film",
    "was",
    "really",
    "quite",
    "and",
    "plot",
    "acting",
    "music",
    "day",
    "a",
    "story",
    "very",
    "so",
    "today",
    "show",
]


def synthetic_texts(n: int, seed: int = 0) -> pd.DataFrame:
    """Balanced sentiment-like texts whose label is carried by one word: learnable, distinct."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 12))))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        rows.append({"text": " ".join(words) + f" {i}", "label": label})
    return pd.DataFrame(rows)


def make_record(
    method="seq_sft",
    task="t",
    budget=64.0,
    weak_cost=0.1,
    f=0.5,
    seed=0,
    accuracy=0.7,
    weak_accuracy=0.65,
    **config_changes,
):
    """A stored run as a real sweep writes it: its whole config, and what that config buys."""
    from labelbudget.config import RunConfig, TaskConfig
    from labelbudget.labels.budget import allocate
    from labelbudget.runs.identity import canonical, config_hash
    from labelbudget.runs.record import Record

    config = RunConfig(
        task=TaskConfig(task=task),
        method=method,
        budget=budget,
        weak_cost=weak_cost,
        hq_fraction=f,
        seed=seed,
    )
    if config_changes:
        config = dataclasses.replace(config, **config_changes)
    alloc = allocate(budget, weak_cost, f)
    return Record(
        config_hash=config_hash(config),
        config=canonical(config),
        task=task,
        method=method,
        strong_model=config.strong_model,
        weak_model=config.weak.weak_model,
        budget=budget,
        weak_cost=weak_cost,
        hq_fraction=f,
        seed=seed,
        n_weak=alloc.n_weak,
        n_hq=alloc.n_hq,
        spent=alloc.n_weak * weak_cost + alloc.n_hq,
        accuracy=accuracy,
        accuracy_lo=accuracy - 0.05,
        accuracy_hi=accuracy + 0.05,
        auroc=accuracy,
        auroc_lo=0,
        auroc_hi=1,
        weak_agreement=0.5,
        n_test=1000,
        weak_accuracy=weak_accuracy,
        weak_pool="clean",
        data_fingerprint="d",
        weak_key="k",
        stages=[],
        notes=[],
        device="cpu",
        dtype="float32",
        started_at=f"2026-01-01T00:00:{seed:02d}",
        seconds=1.0,
        weak_seconds=1.0,
        versions={},
        git_commit=None,
    )


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    from labelbudget.models.backbone import EMBEDDED

    return EMBEDDED["minilm-l6"].locate()


def _save_tiny(model, tokenizer_dir: Path, out: Path) -> Path:
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(tokenizer_dir / name, out / name)
    return out


@pytest.fixture(scope="session")
def tiny_decoder(tmp_path_factory, tokenizer_dir) -> str:
    """A 2-layer Llama (hidden 32) with the MiniLM WordPiece tokenizer: a causal LM in seconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
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
    return str(_save_tiny(LlamaForCausalLM(config), tokenizer_dir, tmp_path_factory.mktemp("tiny-llama")))


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory, tokenizer_dir) -> str:
    """A 2-layer BERT (hidden 32): the weak model of fast tests."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
    )
    return str(_save_tiny(BertModel(config), tokenizer_dir, tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "synthetic.csv"
    synthetic_texts(400).to_csv(path, index=False)
    return path


@pytest.fixture
def tiny_config(synthetic_csv, tiny_decoder, tiny_encoder):
    """A complete, fast run config on the synthetic file with tiny models."""
    from labelbudget.config import RunConfig, TaskConfig, TrainConfig, WeakConfig

    return RunConfig(
        task=TaskConfig(task=str(synthetic_csv), test_size=40),
        weak=WeakConfig(weak_model=tiny_encoder, weak_n_train=48, weak_n_val=16, weak_epochs=1),
        train=TrainConfig(example_visits=64, batch_size=8, eval_batch_size=32),
        strong_model=tiny_decoder,
        budget=8,
        weak_cost=0.1,
        hq_fraction=0.5,
    )


@pytest.fixture
def spy(monkeypatch):
    """Records every weak id sold and every id the oracle labeled (every label source meters
    through `PoolSource.label`)."""
    from labelbudget.labels.sources import PoolSource

    seen = {"weak": [], "hq": []}
    label = PoolSource.label

    def spy_label(self, ids):
        seen[self.name].append(np.asarray(ids).copy())
        return label(self, ids)

    monkeypatch.setattr(PoolSource, "label", spy_label)
    return seen
