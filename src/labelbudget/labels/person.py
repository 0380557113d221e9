"""A person as the oracle (`--oracle file`): the run asks for labels, stops, and resumes.

Whenever a method asks for HQ labels that no `--labels-file` holds, the run writes the request
(`<results>/labeling/<config hash>/`: `to_label.csv`, and the same rows as Label Studio tasks,
`labels.labeling`), keeps what it has trained so far next to it, and stops with instructions
(`LabelsNeeded`, exit code 3). Rerun the same command with `--labels-file FILE` (the CSV filled
in, or Label Studio's export): every label asked for is then answered from the file(s), counted
as the HQ spend, and the run goes on from its saved state. A method that asks twice (few-shot
prompted SFT's HQ demonstrations, then its HQ stage) pauses twice; each request holds every row
asked so far, answered ones filled in, so one file always answers the whole run.

The test set of a task without gold labels is asked for the same way, once per task
(`test_labels`: `labeling/test-<task>/`), and reported as evaluation spend (`tasks.gold`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from labelbudget.labels.labeling import Bank, Request, answers, read_labels, read_request, write_request
from labelbudget.labels.sources import PoolSource, Setup, SourceSpec, register_source
from labelbudget.labelspace import TWO, LabelSpace
from labelbudget.tasks.prepare import Labeled, TaskData
from labelbudget.util.atomic import load_state, save_state
from labelbudget.util.errors import UserError


class LabelsNeeded(Exception):
    """Not an error: the run is waiting for a person's labels. The CLI exits with code 3."""

    def __init__(
        self, path: Path, pending: int, total: int, what: str = "HQ labels", note: str = "", space=TWO
    ):
        self.path, self.n = path, pending
        folder = path.parent
        words = answers(space)
        choices = " or ".join(words) if len(words) == 2 else f"one of {', '.join(words)}"
        super().__init__(
            f"{pending} of the {total} examples in {path} need {what}{note}: fill its empty `label` "
            f"column with {choices} (or import {folder / 'to_label.json'} into Label Studio with the "
            f"interface {folder / 'label_config.xml'} and export JSON), then rerun the same command "
            f"adding --labels-file {path} (or the export)"
        )


def as_paths(files: Path | str | list | tuple | None) -> list[Path]:
    """One labels file, several, or none, as a list."""
    if files is None:
        return []
    return [Path(files)] if isinstance(files, str | Path) else [Path(f) for f in files]


def ask(
    folder: Path,
    ids: list[str],
    texts: list[str],
    bank: Bank,
    space: LabelSpace,
    what: str = "HQ labels",
) -> np.ndarray:
    """The person's labels of these texts, from `bank` (text -> 0/1); if any is missing, write
    the request (every row this folder asked so far, with the answers known) and stop. A labels
    file that answers this request under changed texts is refused (it would be asked again
    forever). `ids` and `texts` as the user's file has them (`TaskData.row`): the request shows
    them so."""
    labels = [bank.get(t.strip()) for t in texts]
    if all(label is not None for label in labels):
        return np.asarray(labels, dtype=np.int64)
    rows: dict[str, tuple[str, str]] = {}  # by text: a row asked again keeps its place, with its id now
    if (previous := read_request(folder, space)) is not None:
        rows.update((t.strip(), (i, t)) for i, t in zip(previous.ids, previous.texts, strict=True))
    for i, text in zip(ids, texts, strict=True):
        rows[text.strip()] = (str(i), text)
    request = Request(
        [i for i, _ in rows.values()], [t for _, t in rows.values()], [bank.get(t) for t in rows]
    )
    if (problem := bank.mismatch(request)) is not None:
        raise UserError(problem, "label the rows with their texts exactly as written in to_label.csv")
    path = write_request(folder, request, space)
    given = {p for p, _, _ in bank.rows}
    note = ""
    if given and request.pending == len(request.ids):
        note = f" (none of them is in the {len(given)} labels file(s) given so far)"
    raise LabelsNeeded(path, request.pending, len(request.ids), what, note, space)


class Person(PoolSource):
    """HQ labels from a person, through labeling files. Every label read is counted: the HQ spend."""

    pauses = True

    def __init__(
        self,
        folder: Path,
        texts: list[str],
        limit: int,
        labels_file: Path | list[Path] | None = None,
        offer=None,
        space: LabelSpace = TWO,
        row=None,
    ):
        super().__init__("hq", 1.0, limit, offer)
        self.folder, self.texts, self.space = Path(folder), texts, space
        self.row = row or (lambda texts, i: (str(i), texts[i]))
        """(id, text) of a pool row as the user's file has it (`TaskData.row`)."""
        self.labels_files = as_paths(labels_file)
        self._bank: Bank | None = None

    @property
    def bank(self) -> Bank:
        if self._bank is None:
            self._bank = read_labels(self.labels_files, self.space)
        return self._bank

    @property
    def state_path(self) -> Path:
        return self.folder / "paused_state.safetensors"

    def save_state(self, tensors: dict, meta: dict) -> None:
        """What the method needs to resume after the labels come back: tensors and JSON, no
        pickle (written atomically)."""
        save_state(self.state_path, tensors, meta)

    def saved_state(self) -> dict | None:
        """The state the run saved when it last paused (None if it has not paused after training)."""
        if not self.labels_files or not self.state_path.exists():
            return None
        tensors, meta = load_state(self.state_path)
        return {"tensors": tensors, **meta}

    def answer(self, ids: np.ndarray) -> np.ndarray:
        what = "HQ labels" if self.name in ("hq", "oracle") else f"{self.name} labels"
        rows = [self.row(self.texts, int(i)) for i in ids]
        labels = ask(self.folder, [i for i, _ in rows], [t for _, t in rows], self.bank, self.space, what)
        return self.space.one_hot(labels)


def test_labels(task: TaskData, results: Path, labels_file=None) -> TaskData:
    """`task` with its test set labeled by the person: asked once per task (every run on it
    shares the request), before the run trains anything."""
    folder = Path(results) / "labeling" / f"test-{task.fingerprint}"
    what = "test labels (your test set: labeled once, for every run on this task)"
    bank = read_labels(as_paths(labels_file), task.space)
    rows = [task.row(task.test.texts, i) for i in range(len(task.test))]
    labels = ask(folder, [i for i, _ in rows], [t for _, t in rows], bank, task.space, what)
    counts = np.bincount(labels, minlength=task.space.k)
    if (counts > 0).sum() < 2:
        raise UserError(
            f"your {len(labels)} test labels are all {task.space.names[int(np.argmax(counts))]!r}: "
            "accuracy and AUROC need at least two classes in the test set",
            "pass a larger --test-size (the request grows; your labels are kept), or a --test-file",
        )
    return dataclasses.replace(task, test=Labeled(task.test.texts, labels))


def build(setup: Setup) -> Person:
    """A person for one source of the run: the paper's HQ labels in `labeling/<run>`, another
    source's (a crowd, say) in `labeling/<run>-<its name>`."""
    me = setup.source
    folder = (
        setup.results
        / "labeling"
        / (setup.run_id if me is None or me.name == "hq" else f"{setup.run_id}-{me.name}")
    )
    task = setup.task
    source = Person(
        folder, task.pool.texts, setup.limit, setup.labels_file, setup.offer, task.space, task.row
    )
    if me is not None:
        source.name, source.price = me.name, me.price
    return source


register_source(
    SourceSpec(
        "file",
        "hq",
        "HQ labels from a person: the run writes a file to label (CSV and Label Studio JSON), stops, "
        "and resumes with --labels-file",
        build,
        pauses=True,
    )
)
