"""The label space: K >= 2 classes in a fixed order, which the task carries and every stage reads.

Class c is `names[c]`; labels are the ids 0..K-1 (-1: unknown, a task without gold). Sources sell
(n, K) class probabilities (a hard label is one-hot), learners return (n, K) logits, metrics take
logits and labels. Two classes are the paper's case: class 1 is the positive one, and its P(1) is
the probability of class 1 (`from_p1`, `p1`).

What a person or a language model is asked reads the same fields: the `question`, what each class
means (`descriptions`), and the words a language model answers with (`answers`: by default the
class ids as digits, the paper's few-shot format `{text}\\n{0 or 1}` generalised to K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelbudget.util.errors import UserError


@dataclass(frozen=True)
class LabelSpace:
    names: tuple[str, ...] = ("0", "1")
    """The class names, in class-id order."""
    descriptions: tuple[str, ...] = ()
    """What each class means, for a person labeling it and a prompt (default: its name)."""
    question: str = ""
    """What a person or a language model is asked of each text (default: which class it is)."""
    answers: tuple[str, ...] = ()
    """The words a language model answers with, one per class (default: the ids "0", "1", ...)."""

    def __post_init__(self) -> None:
        if len(self.names) < 2:
            raise UserError(
                f"a task needs at least 2 classes, got {list(self.names)}",
                "check the label column (and --label-map): at least two classes must occur",
            )
        if len(set(self.names)) != len(self.names):
            raise UserError(f"class names repeat: {list(self.names)}", "give each class its own name")
        for field, values in (("descriptions", self.descriptions), ("answers", self.answers)):
            if values and len(values) != len(self.names):
                raise UserError(
                    f"{len(values)} {field} for {len(self.names)} classes ({', '.join(self.names)})",
                    f"give one of the {field} per class, in the classes' order",
                )
        if self.answers and len(set(self.answers)) != len(self.answers):
            raise UserError(f"answer words repeat: {list(self.answers)}", "give each class its own word")

    @property
    def k(self) -> int:
        return len(self.names)

    def describe(self, c: int) -> str:
        return self.descriptions[c] if self.descriptions else self.names[c]

    @property
    def words(self) -> tuple[str, ...]:
        """A language model's answer per class (`answers`, else the class ids as digits)."""
        return self.answers or tuple(str(c) for c in range(self.k))

    @property
    def ask(self) -> str:
        """The question of every labeling request and prompt."""
        if self.question:
            return self.question
        if self.names == ("0", "1") and not self.descriptions:
            return "Write 1 if this text belongs to class 1 (the task's positive class), else 0."
        if self.k == 2:
            return f"Write 1 if this text is {self.describe(1)}, 0 if it is {self.describe(0)}."
        options = "; ".join(
            f"{self.names[c]}" + (f" ({self.descriptions[c]})" if self.descriptions else "")
            for c in range(self.k)
        )
        return f"Which class is this text? Write one of: {options}."

    @property
    def lookup(self) -> dict[str, int]:
        """The class id each label cell may name: a class's name (a spreadsheet's "1.0" for a name
        "1" too), or its id 0..K-1 unless the classes are named by numbers other than their ids
        (star ratings "1".."5": a "1" is the class named 1, never id 1). A name always wins."""
        names = {name: c for c, name in enumerate(self.names)}
        numbered = [n for n in self.names if n.lstrip("-").isdigit()]
        if numbered and self.names != tuple(str(c) for c in range(self.k)):
            return names | {f"{n}.0": names[n] for n in numbered if f"{n}.0" not in names}
        return {str(c): c for c in range(self.k)} | {f"{c}.0": c for c in range(self.k)} | names

    def one_hot(self, labels: np.ndarray) -> np.ndarray:
        """(n, K) float32 probabilities of hard labels."""
        labels = np.asarray(labels, dtype=np.int64)
        out = np.zeros((len(labels), self.k), dtype=np.float32)
        out[np.arange(len(labels)), labels] = 1.0
        return out


def from_p1(p1: np.ndarray, dtype=np.float32) -> np.ndarray:
    """(n, 2) class probabilities of P(class 1), as the paper's binary weak labels are stored:
    P(0) is 1 - P(1) computed in `dtype` (float32 for training targets, as the binary loss always
    computed it; float64 for measuring labels, as P(1) was compared with 0.5)."""
    p1 = np.asarray(p1, dtype=dtype)
    return np.stack([dtype(1) - p1, p1], axis=-1)


def as_probs(values: np.ndarray, dtype=np.float32) -> np.ndarray:
    """(n, K) class probabilities of stored labels: binary P(1) (n,), the paper's form, or (n, K)
    already."""
    values = np.asarray(values)
    return from_p1(values, dtype) if values.ndim == 1 else values.astype(dtype)


def stored_probabilities(logits: np.ndarray) -> np.ndarray:
    """A labeler's labels from its (n, K) logits, as they are stored: two classes as the paper's
    P(1) = sigmoid(log-odds) in float64 (n,), K classes as the softmax (n, K)."""
    if np.asarray(logits).shape[1] == 2:
        return 1 / (1 + np.exp(-log_odds(logits).astype(np.float64)))
    return softmax(logits)


def p1(probs: np.ndarray) -> np.ndarray:
    """P(class 1) of (n, 2) probabilities."""
    return np.asarray(probs)[:, 1]


def log_odds(logits: np.ndarray) -> np.ndarray:
    """logit1 - logit0 of (n, 2) logits: the paper's score of a binary classifier."""
    logits = np.asarray(logits, dtype=np.float32)
    return logits[:, 1] - logits[:, 0]


def as_logits(scores: np.ndarray) -> np.ndarray:
    """(n, K) logits from (n, K) logits or from binary log-odds (n,), as [0, log-odds]."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim == 1:
        return np.stack([np.zeros_like(scores), scores], axis=-1)
    return scores


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities of (n, K) logits, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def predicted(logits: np.ndarray) -> np.ndarray:
    """The predicted class of each row (ties: the lowest id, so a binary log-odds of 0 is class 0)."""
    return np.asarray(logits).argmax(axis=-1)


def hard(probs: np.ndarray) -> np.ndarray:
    """Soft labels hardened to a class each (a binary P(1) of exactly 0.5 is class 0)."""
    return np.asarray(probs).argmax(axis=-1)


TWO = LabelSpace()
"""The paper's two classes, 0 and 1: the default label space."""
