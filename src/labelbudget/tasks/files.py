"""The user's own labeled file: CSV, TSV or JSONL with a text column and a label column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelbudget.config import TaskConfig
from labelbudget.errors import UserError
from labelbudget.tasks.data import Labeled


def read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(
            path,
            sep="\t" if suffix == ".tsv" else ",",
            dtype=str,
            keep_default_na=False,
            quoting=3 if suffix == ".tsv" else 0,
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(
            f"could not parse {path} as {suffix[1:].upper()}: {str(e).splitlines()[0]}",
            "check that the file is well-formed (one record per line, consistent columns)",
        ) from e


def to_binary(raw: pd.Series, label_map: dict[str, int], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Map raw labels to 0/1 through `label_map` if given, else they must be 0/1 already.

    Returns the labels of the kept rows and the mask of kept rows (rows outside the map drop).
    """
    values = raw.astype(str).str.strip()
    if label_map:
        mapped = values.map(label_map)
        kept = mapped.notna().to_numpy()
        return mapped[kept].to_numpy(dtype=np.int64), kept
    numeric = values.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1, "False": 0, "True": 1})
    if numeric.isna().any():
        seen = sorted(values.unique().tolist())
        shown = ", ".join(repr(v) for v in seen[:6]) + (" ..." if len(seen) > 6 else "")
        example = " ".join(f"{v} {i}" for i, v in enumerate(seen[:2]))
        raise UserError(
            f"labels in {path} are not binary 0/1: found {len(seen)} distinct values ({shown})",
            f"map them with --label-map, e.g. --label-map {example}",
        )
    return numeric.to_numpy(dtype=np.int64), np.ones(len(values), dtype=bool)


def load_file(cfg: TaskConfig) -> tuple[Labeled, tuple[str, ...]]:
    path = Path(cfg.task)
    if not path.is_file():
        raise UserError(
            f"task file {path} does not exist",
            "check the path, or use a registered task name (`labelbudget list`)",
        )
    if path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise UserError(
            f"task file {path} has an unknown type {path.suffix!r}", "use a .csv, .tsv or .jsonl file"
        )
    df = read_table(path)
    for role, column in (("text", cfg.text_column), ("label", cfg.label_column)):
        if column not in df.columns:
            raise UserError(
                f"{path} has no {role} column {column!r}; its columns are {list(map(str, df.columns))}",
                f"pass --{role}-column with one of those names",
            )
    df = df[[cfg.text_column, cfg.label_column]].dropna()
    texts = df[cfg.text_column].astype(str).str.strip()
    nonempty = (texts != "").to_numpy()
    labels, kept = to_binary(df[cfg.label_column][nonempty], cfg.label_map, path)
    notes = []
    if (~kept).any():
        notes.append(f"dropped {int((~kept).sum())} rows whose label is not in --label-map")
    if (~nonempty).any():
        notes.append(f"dropped {int((~nonempty).sum())} rows with empty text")
    return Labeled(texts[nonempty][kept].tolist(), labels), tuple(notes)
