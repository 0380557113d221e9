"""A person as the oracle: HQ labels chosen between stages go to a CSV, and the run resumes.

The run writes `<results>/labeling/<config hash>/to_label.csv` (columns id, text, label; the
label column empty), saves the weak stage's trained state next to it, and stops with
instructions (`LabelsNeeded`). Rerun the same command with `--labels-file FILE` once the label
column holds 0/1: the run restores the weak stage, checks that the file answers exactly the ids
it asked for, counts those labels as the HQ spend, and continues with the HQ stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.labels.sources import PoolSource, Setup, SourceSpec, register_source
from labelbudget.util.atomic import load_state, save_state
from labelbudget.util.errors import UserError


class LabelsNeeded(Exception):
    """Not an error: the run is waiting for a person's labels. The CLI exits with code 3."""

    def __init__(self, path: Path, n: int, command_hint: str):
        self.path, self.n = path, n
        super().__init__(
            f"{n} examples need HQ labels: fill the empty `label` column of {path} with 0 or 1, "
            f"then rerun the same command with {command_hint} {path}"
        )


class Person(PoolSource):
    """HQ labels from a CSV that a person labeled. Every label read is counted: the HQ spend."""

    pauses = True

    def __init__(self, folder: Path, texts: list[str], limit: int, labels_file: Path | None, offer=None):
        super().__init__("hq", 1.0, limit, offer)
        self.folder, self.texts = Path(folder), texts
        self.labels_file = None if labels_file is None else Path(labels_file)

    @property
    def request(self) -> Path:
        return self.folder / "to_label.csv"

    @property
    def state_path(self) -> Path:
        return self.folder / "paused_state.safetensors"

    def save_state(self, tensors: dict, meta: dict) -> None:
        """What the method needs to resume after the labels come back: tensors and JSON, no
        pickle (written atomically)."""
        save_state(self.state_path, tensors, meta)

    def saved_state(self) -> dict | None:
        """The saved state of the paused run, if labels were given to resume with."""
        if self.labels_file is None:
            return None
        if not self.state_path.exists():
            raise UserError(
                f"--labels-file was given but no paused run was found in {self.folder}",
                "run the same command without --labels-file first; it writes the examples to label",
            )
        tensors, meta = load_state(self.state_path)
        return {"tensors": tensors, **meta}

    def answer(self, ids: np.ndarray) -> np.ndarray:
        if self.labels_file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            table = pd.DataFrame({"id": ids, "text": [self.texts[i] for i in ids], "label": ""})
            table.to_csv(self.request, index=False)
            raise LabelsNeeded(self.request, len(ids), "--labels-file")
        return read_labels(self.labels_file, ids)


def build(setup: Setup) -> Person:
    folder = setup.results / "labeling" / setup.run_id
    return Person(folder, setup.task.pool.texts, setup.limit, setup.labels_file, setup.offer)


register_source(
    SourceSpec(
        "file",
        "hq",
        "HQ labels from a person: the run writes a CSV to label, stops, and resumes with --labels-file",
        build,
    )
)


def read_labels(path: Path, ids: np.ndarray) -> np.ndarray:
    """The 0/1 labels in `path` for exactly `ids`, in that order; refuses anything else."""
    if not path.is_file():
        raise UserError(f"labels file {path} does not exist", "pass the CSV the run wrote, once labeled")
    try:
        table = pd.read_csv(path, dtype={"label": str}, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as e:
        raise UserError(
            f"could not parse labels file {path}: {e}", "keep the CSV as written: id,text,label"
        ) from e
    if not {"id", "label"} <= set(table.columns):
        raise UserError(
            f"labels file {path} lacks an `id` or `label` column",
            "keep the columns id,text,label of the file the run wrote",
        )
    asked, given = set(ids.tolist()), set(pd.to_numeric(table["id"], errors="coerce").dropna().astype(int))
    if asked != given or len(table) != len(ids):
        raise UserError(
            f"labels file {path} answers ids that do not match the {len(ids)} requested "
            f"({len(asked - given)} missing, {len(given - asked)} unexpected)",
            "label the file the run wrote without adding, removing or changing ids",
        )
    values = table["label"].astype(str).str.strip()
    bad = ~values.isin(["0", "1"])
    if bad.any():
        raise UserError(
            f"labels file {path} has {int(bad.sum())} labels that are not 0 or 1 "
            f"(e.g. {values[bad].iloc[0]!r} for id {table['id'][bad].iloc[0]})",
            "write 0 or 1 in the label column of every row",
        )
    by_id = dict(zip(table["id"].astype(int), values.astype(int), strict=True))
    return np.array([by_id[i] for i in ids.tolist()], dtype=np.int64)
