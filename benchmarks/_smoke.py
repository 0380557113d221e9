"""What every benchmark's `--smoke` runs on: tiny models built from configs and a synthetic file
task, so that the benchmark's own code path runs end to end in seconds (tests/test_benchmarks.py
runs each one; a benchmark that breaks fails the suite). Its figures mean nothing.

The models are those of tests/conftest.py: a 2-layer Llama (hidden 32, a causal LM) and a 2-layer
BERT (hidden 32), both with the MiniLM WordPiece tokenizer, so no hub and no large weights. The
task is balanced sentiment-like texts whose label is carried by one word (learnable).

    import _smoke                     # benchmarks/ is on sys.path when a benchmark runs
    template = _smoke.tiny(TEMPLATE)  # the same run, on tiny models and the synthetic task
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

POSITIVE = ["good", "great", "excellent", "lovely", "wonderful", "happy", "fine", "nice"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "horrible", "sad", "ugly", "boring"]
FILLER = ["the", "film", "was", "really", "quite", "and", "plot", "acting", "music", "day", "a"]


@functools.cache
def folder() -> Path:
    """This process's scratch folder (removed at exit), also the labelbudget cache: a smoke run
    reads and writes nothing outside it."""
    path = Path(tempfile.mkdtemp(prefix="labelbudget-smoke-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["LABELBUDGET_CACHE"] = str(path / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return path


def texts(n: int, seed: int = 0) -> pd.DataFrame:
    """`n` balanced texts (`text`, `label`), each label carried by one word."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 12))))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POSITIVE if i % 2 else NEGATIVE)))
        rows.append({"text": " ".join(words) + f" {i}", "label": i % 2})
    return pd.DataFrame(rows)


@functools.cache
def task_file(n: int = 400, text_column: str = "text") -> str:
    """A CSV file task of `n` synthetic texts (its text in `text_column`)."""
    path = folder() / f"synthetic-{n}-{text_column}.csv"
    texts(n).rename(columns={"text": text_column}).to_csv(path, index=False)
    return str(path)


def _save(model, name: str) -> str:
    from labelbudget.models.backbone import EMBEDDED

    out = folder() / name
    model.save_pretrained(out)
    tokenizer = EMBEDDED["minilm-l6"].locate()
    for file in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(tokenizer / file, out / file)
    return str(out)


@functools.cache
def decoder() -> str:
    """A 2-layer Llama (hidden 32) with the MiniLM tokenizer: a causal LM in seconds."""
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
    return _save(LlamaForCausalLM(config), "tiny-llama")


@functools.cache
def encoder() -> str:
    """A 2-layer BERT (hidden 32) with the MiniLM tokenizer: the weak model of a smoke run."""
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
    return _save(BertModel(config), "tiny-bert")


def tiny(template, n: int = 400, text_column: str = "text"):
    """`template` (a `RunConfig`) on the tiny models and an `n`-text synthetic task: the weak model
    trained on 48 texts for one epoch, training stages of 64 example visits, a test set of 40.
    Everything else (method, learner, probe, pooling, options) is the template's."""
    task = dataclasses.replace(
        template.task,
        task=task_file(n, text_column),
        text_column=text_column,
        test_size=40,
        max_pool=None,
        data_dir=None,
    )
    weak = dataclasses.replace(
        template.weak, weak_model=encoder(), weak_n_train=48, weak_n_val=16, weak_epochs=1
    )
    train = dataclasses.replace(template.train, example_visits=64, batch_size=8, eval_batch_size=32)
    return dataclasses.replace(template, task=task, weak=weak, train=train, strong_model=decoder())


def run_flags(config) -> list[str]:
    """`labelbudget run` flags for what `tiny` changed in `config`, the task file excepted."""
    return [
        *("--test-size", str(config.task.test_size), "--text-column", config.task.text_column),
        *("--strong-model", config.strong_model, "--weak-model", config.weak.weak_model),
        *("--weak-n-train", str(config.weak.weak_n_train), "--weak-n-val", str(config.weak.weak_n_val)),
        *("--weak-epochs", str(config.weak.weak_epochs), "--budget", f"{config.budget:g}"),
        *("--example-visits", str(config.train.example_visits), "--batch-size", str(config.train.batch_size)),
        *("--eval-batch-size", str(config.train.eval_batch_size)),
    ]
