"""Weak labels from a causal LM's prompt: `--weak-labels prompt:MODEL` (an embedded name, a local
folder or a Hugging Face id).

Each pool and test text is scored as `icl` scores (`methods.icl.LabelScorer`: logit("1") -
logit("0") at the last position of the icl prompt format, `prompts.few_shot_prompt`), here with
no demonstrations (zero-shot), and sold soft as P(1) = sigmoid(score). Scored once per model and
task, cached in the results folder's artifacts. Few-shot prompts whose demonstrations are paid
for as HQ labels are not built yet.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from labelbudget.labels.sources import Fixed, Setup, SourceSpec, WeakInfo, register_source
from labelbudget.util.atomic import atomic_path
from labelbudget.util.hashing import stable_hash

VERSION = 1


def prompt_scores(model_name: str, texts: list[str], dtype: str = "auto", batch_size: int = 32) -> np.ndarray:
    """icl's zero-shot score of every text (log-odds of "1")."""
    from labelbudget.methods.icl import LabelScorer
    from labelbudget.models.backbone import load_causal_lm, max_length, pick_device, pick_dtype
    from labelbudget.models.packing import Encoder
    from labelbudget.prompts import prompted

    device = pick_device()
    model, tokenizer = load_causal_lm(model_name, pick_dtype(dtype, device))
    model = model.to(device)
    prompts = prompted(texts, [], np.random.default_rng(0))  # no demonstrations: the order is moot
    return LabelScorer(model, tokenizer)(Encoder(tokenizer, max_length(model.config))(prompts), batch_size)


def build(setup: Setup) -> Fixed:
    from labelbudget.models.backbone import check_model, weights_fingerprint

    cfg, task = setup.config, setup.task
    model = cfg.weak_labels.split(":", 1)[1]
    check_model(model)
    key = stable_hash([VERSION, model, weights_fingerprint(model), task.fingerprint, cfg.train.dtype])
    cache = setup.results / "artifacts" / "prompt_labels" / f"{key}.npz"
    start = time.perf_counter()
    if cache.exists():
        with np.load(cache) as z:
            pool, test = z["pool"], z["test"]
    else:
        with setup.phases("weak labels (prompting)") if setup.phases else contextlib.nullcontext():
            scores = prompt_scores(model, task.pool.texts + task.test.texts, cfg.train.dtype)
        pool, test = scores[: len(task.pool)], scores[len(task.pool) :]
        with atomic_path(Path(cache), ".npz") as tmp:
            np.savez(tmp, pool=pool, test=test)
    sigmoid = lambda x: 1 / (1 + np.exp(-np.asarray(x, np.float64)))  # noqa: E731
    source = Fixed("weak", cfg.weak_cost, setup.limit, sigmoid(pool), setup.offer)
    note = f"weak labels from {model}'s zero-shot prompt (icl's scoring), cached as {key}"
    source.info = WeakInfo(sigmoid(test), key, (note,), time.perf_counter() - start)
    return source


register_source(
    SourceSpec(
        "prompt:",
        "weak",
        "weak labels from a causal LM's zero-shot prompt, scored as icl: prompt:MODEL",
        build,
    )
)
