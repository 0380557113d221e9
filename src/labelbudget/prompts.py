"""Few-shot prompts, exactly as the paper's code builds them (PROTOCOL, methods 2 and 3).

Each demonstration is `{text}\\n{answer}`, the answer the label space's word for its class
(`LabelSpace.words`: the ids "0" and "1" of the paper by default, or the words a task gives);
demonstrations are joined by blank lines and followed by `{text}\\n`, so the next token is the
label. Weak demonstrations are hardened (their most probable class; a binary P(1) of 0.5 is 0) for
display. The demonstrations are reshuffled for every input. A question, where one is given
(a zero-shot labeler), heads the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Demo = tuple[str, int]


DIGITS = ("0", "1")


def few_shot_prompt(
    demos: Sequence[Demo], text: str, words: Sequence[str] = DIGITS, question: str = ""
) -> str:
    head = f"{question}\n\n" if question else ""
    return head + "".join(f"{d}\n{words[y]}\n\n" for d, y in demos) + f"{text}\n"


def harden(probs: np.ndarray) -> np.ndarray:
    """Soft labels (n, K) as displayed in a prompt: the most probable class (a binary P(1) of
    exactly 0.5 is class 0, as the paper's `P(1) > 0.5`)."""
    return np.asarray(probs).argmax(axis=-1)


def prompted(
    texts: Sequence[str],
    demos: Sequence[Demo],
    rng: np.random.Generator,
    words: Sequence[str] = DIGITS,
    question: str = "",
) -> list[str]:
    """Every text behind the same demonstrations, in a fresh random order per text."""
    return [
        few_shot_prompt([demos[j] for j in rng.permutation(len(demos))], t, words, question) for t in texts
    ]
