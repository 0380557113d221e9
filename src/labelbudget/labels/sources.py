"""Label sources: everything a run buys labels from, behind one protocol, metered in one place.

A source has a name, a price per label, a limit (how many the allocation lets it sell) and what
it has sold; a method buys from it by count (`buy`: the next labels of the examples it offers)
or by chosen pool ids (`label`: uncertainty sampling, demonstrations). A source that `pauses`
gets its labels from a person later: the run saves its state through the source and stops, and
the rerun resumes from that state. The `Ledger` holds a run's sources; what the run spent is the
sum of what each one sold at its price (PROTOCOL, "Budget accounting").

Adding a source is one module and one `register_source` line: `trained` (a weak model
fine-tuned on ground truth, `labels.trained`), `ground-truth` (below) and `file` (a person,
`labels.person`) are the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from labelbudget.allocation import SourceConfig, sources_of
from labelbudget.util.errors import UserError
from labelbudget.util.registry import Registry


class LabelSource(Protocol):
    name: str
    price: float
    """$ per label (an HQ label costs $1)."""
    limit: int
    """Labels it may sell in this run."""
    sold: int
    pauses: bool
    """True if its labels come from a person later (the run stops, then resumes)."""

    def buy(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n of the pool examples it offers, with their labels: (n, K) class
        probabilities (a hard label one-hot)."""
        ...

    def label(self, ids: np.ndarray) -> np.ndarray:
        """Labels ((n, K) class probabilities) of these pool examples."""
        ...

    def saved_state(self) -> dict[str, Any] | None:
        """What a paused run saved to resume with, once the person's labels are given; or None."""
        ...

    def save_state(self, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
        """Keep what the run needs to resume after a pause."""
        ...


class PoolSource:
    """Labels of pool examples at a price, metered: every label handed out is counted, none is
    handed out twice, none beyond the limit (so a run cannot overspend by construction)."""

    pauses = False
    info: WeakInfo | None = None
    """What a weak source says of its labels (None for HQ sources)."""

    def __init__(self, name: str, price: float, limit: int, offer: np.ndarray | None = None):
        self.name, self.price, self.limit = name, price, limit
        self.offer = np.zeros(0, dtype=np.int64) if offer is None else np.asarray(offer)
        """The pool ids it sells by count, in order."""
        self.sold = 0
        self._asked: set[int] = set()

    def answer(self, ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def buy(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fresh = [i for i in self.offer.tolist() if i not in self._asked][:n]
        if len(fresh) < n:
            raise RuntimeError(f"{self.name} labels: only {len(fresh)} of the {n} asked for are on offer")
        ids = np.asarray(fresh, dtype=np.int64)
        return ids, self.label(ids)

    def label(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        repeated = self._asked.intersection(ids.tolist())
        if repeated or len(set(ids.tolist())) != len(ids):
            raise RuntimeError(f"{self.name} labels asked again for ids {sorted(repeated)[:5]}")
        if self.sold + len(ids) > self.limit:
            raise RuntimeError(f"{self.name} labels: limit {self.limit} exceeded")
        labels = self.answer(ids)
        self.sold += len(ids)
        self._asked.update(ids.tolist())
        return labels

    def saved_state(self) -> dict[str, Any] | None:
        return None

    def save_state(self, tensors: dict[str, Any], meta: dict[str, Any]) -> None:
        raise RuntimeError(f"{self.name} labels come at once; there is nothing to pause for")


class Fixed(PoolSource):
    """A source whose labels are known for every pool example ((N, K) class probabilities): the
    dataset's ground truth one-hot (a counting oracle, the paper's HQ labels) or a weak labeler's
    probabilities (sold soft)."""

    def __init__(
        self, name: str, price: float, limit: int, values: np.ndarray, offer: np.ndarray | None = None
    ):
        super().__init__(name, price, limit, offer)
        self.values = values

    def answer(self, ids: np.ndarray) -> np.ndarray:
        return self.values[ids].copy()


@dataclass
class Ledger:
    """A run's label sources by name. The spend is what they sold, at their prices."""

    sources: dict[str, LabelSource]

    @property
    def spent(self) -> float:
        return sum(s.sold * s.price for s in self.sources.values())

    @property
    def counts(self) -> dict[str, int]:
        return {name: s.sold for name, s in self.sources.items()}


@dataclass
class Setup:
    """What a source is built from: the run's config, task and folders, the source's own config
    (its name, what sells its labels and its price), the pool ids it offers (its side of the
    pool), and how many it may sell."""

    config: Any
    task: Any
    offer: np.ndarray
    limit: int
    results: Path
    run_id: str
    """The run's config hash (names its labeling folder)."""
    labels_file: Any = None
    """The labels files a person filled (`labels.person`): a path, a list of paths, or None."""
    phases: Any = None
    source: SourceConfig | None = None
    """Which of the run's sources this is (None: the paper's weak source, `weak_of`)."""

    @property
    def me(self) -> SourceConfig:
        return self.source or weak_of(self.config)


@dataclass
class WeakInfo:
    """What a weak source says of its labels beyond selling them: its (n_test, K) class
    probabilities on the test set (NaN rows where it has none; for the weak labels' accuracy), a
    fingerprint, notes, and the time it took."""

    test_probs: np.ndarray | None
    key: str
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    spent_once: float = 0.0
    """$ of HQ labels the source bought for itself, once per task, outside the run's budget (a
    few-shot prompt's demonstrations)."""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    side: Literal["weak", "hq"]
    """Which side of the allocation it sells: weak labels (config.weak_labels) or HQ labels
    (config.oracle)."""
    description: str
    build: Callable[[Setup], PoolSource]
    reserved: Callable[[Any, Any, SourceConfig], np.ndarray | None] = field(
        default=lambda config, task, me: None
    )
    """Pool ids the source keeps out of the elicitation pool (the weak model's own training
    examples), computed without any work; None: none."""
    kept_out: Callable[[Any, SourceConfig], tuple[str, str]] = field(default=lambda config, me: ("", ""))
    """What the reserved ids are and how to let them back in, for a pool-too-small error."""
    check: Callable[[Any, Any, SourceConfig], None] = field(default=lambda config, task, me: None)
    """Refuse bad input of the source's own (a malformed labels file, a wrong column) before any
    run, so that a sweep refuses it before it writes anything (`runs.run.check`)."""
    needs_gold: bool = False
    """It reads the task's gold labels (so a task without them, `--unlabeled`, refuses it)."""
    pauses: bool = False
    """Its labels come from a person later: a run stops and resumes (a sweep cannot wait)."""
    warm: Callable[[Any, Any, Path, SourceConfig], None] = field(
        default=lambda config, task, results, me: None
    )
    """Work done once per task before any run (the trained weak labeler trains), so that an
    executor can do it in parallel first; the runs then find it cached."""


SOURCES: Registry[SourceSpec] = Registry("label source")


def register_source(spec: SourceSpec) -> SourceSpec:
    return SOURCES.register(spec.name, spec)


ALIASES = {"person": "file"}
"""Names a `--source` may give a registered source by (a person is `--oracle file`)."""


def spec_of(source: SourceConfig, flag: str = "--source", side: str | None = None) -> SourceSpec:
    """The registered source that sells `source`'s labels (`side`: the flag's side of the pair)."""
    name = ALIASES.get(source.spec, source.kind)
    if name.endswith(":") and not source.argument.strip():
        raise UserError(
            f"{flag} {source.spec}: the source needs an argument after the colon", f"e.g. {flag} {name}NAME"
        )
    kinds = sorted(s.name for s in SOURCES.values() if side is None or s.side == side)
    spec = SOURCES.get_or_fail(name, f"pass {flag} with one of {', '.join(kinds)}")
    if side is not None and spec.side != side:
        raise UserError(
            f"{flag} {name}: that source sells {spec.side} labels, not {side} labels",
            f"pass {flag} with a source of {side} labels (`labelbudget list`)",
        )
    return spec


def weak_of(config) -> SourceConfig:
    """The paper's weak source of a config: `--weak-labels` at `--weak-cost`."""
    return SourceConfig("weak", config.weak_labels, config.weak_cost)


def source_for(config, side: Literal["weak", "hq"]) -> SourceSpec:
    """The registered source the config names for one side of the paper's pair."""
    if side == "weak":
        return spec_of(weak_of(config), "--weak-labels", "weak")
    return spec_of(SourceConfig("hq", config.oracle, 1.0), "--oracle", "hq")


def sources_for(config) -> list[tuple[SourceConfig, SourceSpec]]:
    """Every label source of a run, in stage order, with the registered source that sells it."""
    if not config.sources:
        return [
            (weak_of(config), source_for(config, "weak")),
            (sources_of(config)[1], source_for(config, "hq")),
        ]
    return [(s, spec_of(s)) for s in sources_of(config)]


def measure(config, task, results: Path) -> list[str]:
    """What `labelbudget weak --weak-labels SPEC` prints: the source's notes, how many pool texts
    it labels, and its labels against the task's gold test split (`metrics.label_quality`)."""
    from labelbudget.metrics import label_quality

    me = weak_of(config)
    spec = source_for(config, "weak")
    if task.test_pending:
        raise UserError(
            f"task {task.name!r} has no gold labels (--unlabeled), so there is nothing to measure "
            f"--weak-labels {config.weak_labels} against here",
            "run it (`labelbudget run ... --oracle file`): its record measures the weak labels against "
            "the test set you label",
        )
    reserved = spec.reserved(config, task, me)
    offer = np.setdiff1d(np.arange(len(task.pool)), [] if reserved is None else reserved)
    source = spec.build(Setup(config, task, offer, 0, results, "weak", source=me))  # it sells nothing here
    lines = [f"note: {note}" for note in source.info.notes]  # the task's were logged as it loaded
    q = label_quality(source.info.test_probs, task.test.labels, "test split")
    if q is None:
        return [*lines, f"weak labels {source.info.key}: none of the {len(task.test)} test texts has one"]
    majority = np.bincount(task.test.labels, minlength=task.space.k).max() / len(task.test)
    return [
        *lines,
        f"weak labels {source.info.key} ({config.weak_labels} on {task.name}): {len(source.offer)} of "
        f"{len(task.pool)} pool texts labeled; on {q['n']} test texts accuracy {q['accuracy']:.3f} "
        f"[{q['accuracy_lo']:.3f}, {q['accuracy_hi']:.3f}] (the most common class alone: {majority:.3f}), "
        f"calibration error {q['ece']:.3f} [{q['ece_lo']:.3f}, {q['ece_hi']:.3f}]; "
        + mean_and_confusion(q, task.space),
    ]


def mean_and_confusion(q: dict, space) -> str:
    """`label_quality`'s mean probability per class and confusion matrix, in words."""
    given = "/".join(space.names) if space.k > 2 else "0/1"
    rows = ", ".join(
        f"gold {space.names[g]} labeled {given}: " + "/".join(map(str, row))
        for g, row in enumerate(q["confusion"])
    )
    if "mean_p1" in q:
        return f"mean P(1) {q['mean_p1']:.3f}; {rows}"
    means = ", ".join(f"{n} {m:.3f}" for n, m in zip(space.names, q["mean_p"], strict=True))
    return f"mean P per class: {means}; {rows}"


register_source(
    SourceSpec(
        "ground-truth",
        "hq",
        "HQ labels from the dataset's gold labels through a counting oracle (the paper's simulation)",
        lambda s: Fixed(s.me.name, s.me.price, s.limit, s.task.space.one_hot(s.task.pool.labels), s.offer),
        needs_gold=True,
    )
)
