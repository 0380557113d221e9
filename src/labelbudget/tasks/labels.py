"""A file's label column as class ids: names or ids, the paper's 0/1, `--label-map` merging
classes, `--classes` naming them; what is not a class refused with what it looks like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.labelspace import LabelSpace
from labelbudget.util.errors import UserError

BINARY = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}
"""Labels 0 and 1 as files hold them (lower-cased): spreadsheets save 1 as 1.0 or TRUE."""

MAX_CLASSES = 50
"""More distinct labels than this without `--classes` or `--label-map` is taken for a wrong
column (texts, scores), not a task: refused with the count."""


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _integer(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number == int(number) else None


def to_classes(
    raw: pd.Series, label_map: dict[str, int], classes: tuple[str, ...], path: Path
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str]]:
    """Class ids of the raw labels, the mask of kept rows, the class names in id order, notes.

    - `label_map`: raw labels to ids 0..K-1, several labels to one id merging classes (named by
      `classes`, else by the raw labels it merges); rows with other labels are dropped, counted;
    - else `classes` names the classes in order, and a label is a name or an id;
    - else 0/1 labels are the paper's two classes; other labels are the class names, sorted (as
      numbers where they are integers: star ratings 1-5 are five classes in their order)."""
    values = raw.astype(str).str.strip()
    seen = sorted(values.unique().tolist())
    if label_map:
        absent = sorted(set(label_map) - set(values))
        if absent:
            raise UserError(
                f"--label-map names labels that {path} does not contain: {absent}; its labels are "
                + ", ".join(repr(v) for v in seen[:8])
                + (" ..." if len(seen) > 8 else ""),
                "map the file's own label values (exact spelling and case) to class ids 0, 1, ...",
            )
        mapped = values.map(label_map)
        kept = mapped.notna().to_numpy()
        k = max(label_map.values()) + 1
        if sorted(set(label_map.values())) != list(range(k)) or k < 2:
            raise UserError(
                f"--label-map maps to the class ids {sorted(set(label_map.values()))}: the classes are "
                "0, 1, ..., K-1 (at least two), none of them left out",
                "map the labels to 0 and 1 (or 0, 1, 2, ... for more classes)",
            )
        names = tuple(classes) or tuple(
            " or ".join(sorted(r for r, c in label_map.items() if c == i)) for i in range(k)
        )
        labels = mapped[kept].to_numpy(dtype=np.int64)
        notes = []
        if (~kept).any():
            dropped = values[~kept].value_counts()
            shown = ", ".join(f"{v!r} {n:,}" for v, n in dropped.head(5).items())
            notes.append(f"dropped {int((~kept).sum())} rows whose label is not in --label-map ({shown})")
        for c in range(k):
            merged = sorted(r for r, i in label_map.items() if i == c)
            shown = ", ".join(f"{n!r} {int((values[kept] == n).sum()):,}" for n in merged)
            notes.append(f"class {c} after --label-map: {int((labels == c).sum()):,} rows ({shown})")
        return labels, kept, names, notes
    if classes:
        index = LabelSpace(tuple(classes)).lookup
        unknown = sorted(set(values) - set(index))
        if unknown:
            raise UserError(
                f"{path} has labels that are none of --classes {list(classes)} (nor their ids 0-"
                f"{len(classes) - 1}): "
                + ", ".join(repr(v) for v in unknown[:6])
                + (" ..." if len(unknown) > 6 else ""),
                "list every class in --classes, or map the labels with --label-map",
            )
        return values.map(index).to_numpy(dtype=np.int64), np.ones(len(values), bool), tuple(classes), []
    if set(values.str.lower()) <= set(BINARY):
        return (
            values.str.lower().map(BINARY).to_numpy(dtype=np.int64),
            np.ones(len(values), bool),
            ("0", "1"),
            [],
        )
    numbers = {v: _integer(v) for v in seen}
    fractions = [v for v in seen if numbers[v] is None and is_number(v)]
    if fractions:
        raise UserError(
            f"labels in {path} include numbers that are not class ids "
            f"({', '.join(map(repr, fractions[:4]))}): scores or probabilities, not classes",
            "pass the column of classes as --label-column (names, or ids 0, 1, ...); weak labels' "
            "probabilities go in --weak-labels column:NAME",
        )
    if all(n is not None for n in numbers.values()):
        seen = sorted(seen, key=lambda v: numbers[v])
        names = tuple(str(numbers[v]) for v in seen)
    else:
        names = tuple(seen)
    if len(names) > MAX_CLASSES:
        shown = ", ".join(repr(v) for v in seen[:6]) + " ..."
        raise UserError(
            f"labels in {path} take {len(names)} distinct values ({shown}): more classes than "
            f"{MAX_CLASSES}, so this looks like another column than the labels",
            "check --label-column (and --text-column); for a task of that many classes name them with "
            "--classes, or merge them with --label-map",
        )
    index = {v: i for i, v in enumerate(seen)}
    return values.map(index).to_numpy(dtype=np.int64), np.ones(len(values), bool), names, []
