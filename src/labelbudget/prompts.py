"""Few-shot prompts, exactly as the paper's code builds them (PROTOCOL, methods 2 and 3).

Each demonstration is `{text}\\n{0 or 1}`; demonstrations are joined by blank lines and followed
by `{text}\\n`, so the next token is the label. Weak demonstrations are hardened at 0.5 for display.
The demonstrations are reshuffled for every input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Demo = tuple[str, int]


def few_shot_prompt(demos: Sequence[Demo], text: str) -> str:
    return "".join(f"{d}\n{y}\n\n" for d, y in demos) + f"{text}\n"


def harden(probs: np.ndarray) -> np.ndarray:
    """Soft weak labels as displayed in a prompt: 1 if P(1) > 0.5."""
    return (np.asarray(probs) > 0.5).astype(int)


def prompted(texts: Sequence[str], demos: Sequence[Demo], rng: np.random.Generator) -> list[str]:
    """Every text behind the same demonstrations, in a fresh random order per text."""
    return [few_shot_prompt([demos[j] for j in rng.permutation(len(demos))], t) for t in texts]
