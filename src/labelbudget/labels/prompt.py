"""Weak labels from a causal LM's prompt: `--weak-labels prompt:MODEL` (zero-shot) or
`prompt:MODEL:K` (K demonstrations); MODEL is an embedded name, a local folder or a Hugging Face id.

Each pool and test text is scored as `icl` scores (`methods.icl.LabelScorer`: the logits of the
K answer words at the last position of the icl prompt format, `prompts.prompted`: the
demonstrations reshuffled per text) and sold soft as their softmax (two classes: P(1) =
sigmoid(logit(1) - logit(0))). The answer words are the task's (`--answers`); without demonstrations
(zero-shot: nothing shows the model what "0" or "1" would mean) they default to the class names,
and the task's question (`--question`, or one naming the classes) heads every prompt.

The K demonstrations are HQ labels: K pool examples drawn once per task (from its fingerprint),
labeled by the run's HQ source (gold in simulation; with `--oracle file` a person, asked once in
`labeling/demos-<key>/`), kept out of the elicitation pool, and paid for at $1 each. Departure
(stated in the record, `Record.weak_spent_once`): they are paid once per task, outside each run's
budget, like the weak model's own training labels in the paper (which no budget pays for) and like
a gold-free test set, because every run on the task shares them: charging each run of a sweep $K
would price one purchase many times and move every budget line by K. Scored once per model, task
and demonstrations, cached in the results folder's artifacts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import numpy as np

from labelbudget.labels.sources import Fixed, Setup, SourceSpec, WeakInfo, register_source, sources_for
from labelbudget.labelspace import as_probs, stored_probabilities
from labelbudget.prompts import Demo, harden
from labelbudget.util.atomic import atomic_path
from labelbudget.util.errors import UserError
from labelbudget.util.hashing import stable_hash

VERSION = 3
"""3: K classes, the answer words and question of the label space (zero-shot: the class names)."""


def parse(spec: str) -> tuple[str, int]:
    """(model, number of demonstrations) of `prompt:MODEL` or `prompt:MODEL:K`."""
    model = spec.split(":", 1)[1]
    head, _, tail = model.rpartition(":")
    if head and tail.strip().isdigit():
        return head, int(tail)
    return model, 0


def demo_ids(config, task, me) -> np.ndarray | None:
    """The pool examples the prompt's demonstrations are: K drawn once per task (so every run and
    seed on it shares them, and the weak labels are scored once); None for zero-shot."""
    _, k = parse(me.spec)
    if not k:
        return None
    if k >= len(task.pool):
        raise UserError(
            f"{me.spec} asks for {k} demonstrations, but the pool of "
            f"{task.name!r} has {len(task.pool)} examples",
            "ask for fewer demonstrations (prompt:MODEL:K with a small K, e.g. 8)",
        )
    rng = np.random.default_rng(int(stable_hash(["demos", task.fingerprint, k])[:12], 16))
    return np.sort(rng.choice(len(task.pool), k, replace=False))


def prompt_words(space, demos: list[Demo]) -> tuple[tuple[str, ...], str]:
    """(answer words, question) of a labeler's prompt: the task's own, else for zero-shot the class
    names and a question naming them (few-shot: the icl format, the demonstrations teach it)."""
    if demos:
        return space.words, space.question
    return space.answers or space.names, space.ask


def prompt_scores(
    model_name: str,
    texts: list[str],
    dtype: str = "auto",
    batch_size: int = 32,
    demos: list[Demo] = (),
    words: tuple[str, ...] = ("0", "1"),
    question: str = "",
) -> np.ndarray:
    """icl's (n, K) scores of every text (the answer words' logits) behind these demonstrations
    (none: zero-shot), reshuffled per text from a fixed seed."""
    from labelbudget.methods.icl import LabelScorer
    from labelbudget.models.backbone import load_causal_lm, max_length, pick_device, pick_dtype
    from labelbudget.models.packing import Encoder
    from labelbudget.prompts import prompted

    device = pick_device()
    model, tokenizer = load_causal_lm(model_name, pick_dtype(dtype, device))
    model = model.to(device)
    prompts = prompted(texts, list(demos), np.random.default_rng(0), words, question)
    scorer = LabelScorer(model, tokenizer, words, desc=f"{'few' if demos else 'zero'}-shot labeling")
    return scorer(Encoder(tokenizer, max_length(model.config))(prompts), batch_size)


def _demonstrations(setup: Setup) -> list[Demo]:
    """The demonstrations with their HQ labels, bought from the run's HQ source (a person is asked
    once per task, in a request every run on it shares)."""
    ids = demo_ids(setup.config, setup.task, setup.me)
    if ids is None:
        return []
    key = stable_hash([setup.task.fingerprint, ids.tolist()])
    hq, spec = sources_for(setup.config)[-1]  # the run's dearest source
    oracle = spec.build(
        dataclasses.replace(setup, offer=ids, limit=len(ids), run_id=f"demos-{key}", source=hq)
    )
    labels = harden(oracle.label(ids))
    return list(zip((setup.task.pool.texts[i] for i in ids), labels.tolist(), strict=True))


def build(setup: Setup) -> Fixed:
    from labelbudget.models.backbone import check_model, weights_fingerprint

    cfg, task = setup.config, setup.task
    model, _ = parse(setup.me.spec)
    check_model(model)
    demos = _demonstrations(setup)
    words, question = prompt_words(task.space, demos)
    key = stable_hash(
        [
            VERSION,
            model,
            weights_fingerprint(model),
            task.fingerprint,
            cfg.train.dtype,
            demos,
            words,
            question,
        ]
    )
    cache = setup.results / "artifacts" / "prompt_labels" / f"{key}.npz"
    start = time.perf_counter()
    if cache.exists():
        with np.load(cache) as z:
            pool, test = z["pool"], z["test"]
    else:
        with setup.phases("weak labels (prompting)") if setup.phases else contextlib.nullcontext():
            scores = prompt_scores(
                model,
                task.pool.texts + task.test.texts,
                cfg.train.dtype,
                demos=demos,
                words=words,
                question=question,
            )
        pool, test = scores[: len(task.pool)], scores[len(task.pool) :]
        with atomic_path(Path(cache), ".npz") as tmp:
            np.savez(tmp, pool=pool, test=test)
    source = Fixed(
        setup.me.name, setup.me.price, setup.limit, as_probs(stored_probabilities(pool)), setup.offer
    )
    paid = len(demos) * sources_for(cfg)[-1][0].price  # from the run's dearest source ($1: the pair's HQ)
    shots = (
        f"a {len(demos)}-shot prompt (demonstrations: {len(demos)} HQ labels, ${paid:g}, bought once "
        "for every run on this task, outside the budget, and kept out of the pool)"
        if demos
        else "zero-shot prompt"
    )
    note = f"weak labels from {model} ({shots}; answers {', '.join(words)}), scored as icl, cached as {key}"
    test_probs = as_probs(stored_probabilities(test), np.float64)
    source.info = WeakInfo(test_probs, key, (note,), time.perf_counter() - start, float(paid))
    return source


register_source(
    SourceSpec(
        "prompt:",
        "weak",
        "weak labels from a causal LM's prompt, scored as icl: prompt:MODEL (zero-shot) or "
        "prompt:MODEL:K (K HQ demonstrations, bought once per task)",
        build,
        reserved=demo_ids,
        kept_out=lambda config, me: (
            f"{parse(me.spec)[1]} demonstrations kept out",
            "or ask for fewer demonstrations",
        ),
    )
)
