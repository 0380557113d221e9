"""Labeling files: what a run asks a person to label, and the labels that come back.

A request is written twice in one folder, with the same ids, texts and instructions:

- `to_label.csv`: columns `id` (the row's id in the task file: its `id` column, else its row
  number), `text` (as written in the file), `label` (empty: to fill with a class), `question`;
- `to_label.json`: Label Studio's task import format (`[{"data": {"id", "text", "question"}}]`,
  rows already labeled carry their answer as an annotation), with `label_config.xml`, the
  labeling interface to create the project with (one `Choices` named `label`: 1 or 0).

The CSV is made for a person with a spreadsheet: a text that starts like a formula (`=`, `+`,
`-`, `@`) is written behind a `'` (`util.spreadsheet`), so opening the file runs nothing.

The labels come back in any of: that CSV (or any CSV/TSV/JSONL with `text` and `label`), Label
Studio's JSON export (tasks with `annotations`) or its JSON-MIN export (flat rows with `text` and
`label`). They are matched to what was asked by exact text, the `'` guard undone whether the
spreadsheet kept it or not (a text's label is the same for every run, so one file serves the
test set and every run's HQ labels, whose ids overlap; a text edited by hand stays asked for, and
a row under an asked id whose text nearly matches is refused as changed on the way). An empty
label is not yet labeled; 0 and 1 are read as spreadsheets save them too (1.0, TRUE); anything
else is refused with the count.
"""

from __future__ import annotations

import csv
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd

from labelbudget.labelspace import TWO, LabelSpace
from labelbudget.tasks.files import MISSING, column, read_table
from labelbudget.tasks.labels import BINARY
from labelbudget.util.atomic import atomic_path
from labelbudget.util.errors import UserError, short
from labelbudget.util.spreadsheet import guard_frame, unguard

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
"""What a labels file may be: a table, or Label Studio's JSON export."""

MAX_JSON_BYTES = 1 << 30
"""A Label Studio export larger than this is not one request's answers (a million tasks are
well under it); it is refused rather than read into memory whole."""

LABEL_CONFIG = """<View>
  <Header value="$question"/>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text" choice="single" showInline="true">
{choices}
  </Choices>
</View>
"""


def answers(space: LabelSpace) -> tuple[str, ...]:
    """What a person writes for each class: 1 and 0 for two classes (as the request asks), the
    class names for more."""
    return ("0", "1") if space.k == 2 else space.names


def label_value(cell: str, space: LabelSpace = TWO) -> int | None:
    """The class id a label cell gives, as people and spreadsheets write it: a class name or id
    (two classes: also 1.0, TRUE), else None."""
    value = cell.strip()
    ids = space.lookup
    if value in ids:
        return ids[value]
    return BINARY.get(value.lower()) if space.k == 2 else None


@dataclass(frozen=True)
class Request:
    """Rows a person is asked to label: ids, texts, and the labels already given (None: not yet)."""

    ids: list[str]
    """The rows' ids in the user's file (its `id` column, else row numbers; a registered task's:
    positions)."""
    texts: list[str]
    labels: list[int | None]

    @property
    def pending(self) -> int:
        return sum(label is None for label in self.labels)


def write_request(folder: Path, request: Request, space: LabelSpace = TWO) -> Path:
    """Write the request as CSV, Label Studio JSON and its label config (a choice per class, with
    what it means); returns the CSV's path."""
    folder.mkdir(parents=True, exist_ok=True)
    asked, words = space.ask, answers(space)
    cells = ["" if label is None else words[label] for label in request.labels]
    table = pd.DataFrame({"id": request.ids, "text": request.texts, "label": cells, "question": asked})
    table = guard_frame(table)  # opened in a spreadsheet: no text runs as a formula
    with atomic_path(folder / "to_label.csv", ".csv") as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC)  # a bare \r in a text stays in it
    tasks = []
    for i, text, label in zip(request.ids, request.texts, request.labels, strict=True):
        task: dict = {"data": {"id": str(i), "text": text, "question": asked}}
        if label is not None:
            choice = {"from_name": "label", "to_name": "text", "type": "choices"}
            task["annotations"] = [{"result": [{**choice, "value": {"choices": [words[label]]}}]}]
        tasks.append(task)
    with atomic_path(folder / "to_label.json", ".json") as tmp:
        tmp.write_text(json.dumps(tasks, indent=1, ensure_ascii=False), encoding="utf-8")
    order = range(space.k) if space.k > 2 else (1, 0)  # two classes: 1 first, as the question
    choices = "\n".join(
        f"    <Choice value={quoteattr(words[c])} hint={quoteattr(space.describe(c))}/>" for c in order
    )
    config = LABEL_CONFIG.format(choices=choices)
    with atomic_path(folder / "label_config.xml", ".xml") as tmp:
        tmp.write_text(config, encoding="utf-8")
    return folder / "to_label.csv"


def read_request(folder: Path, space: LabelSpace = TWO) -> Request | None:
    """The request last written in `folder`, or None. The person may have filled this very file
    in a spreadsheet: its texts are read with the formula guard undone, its ids and labels as a
    spreadsheet saves them (3.0, TRUE); a cell that is not a label reads as not yet labeled (the
    labels files given are what is checked)."""
    path = folder / "to_label.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"id", "text", "label"} - set(table.columns)
    if missing:
        raise UserError(
            f"{path} lacks the columns {sorted(missing)}: it is not the request this run wrote",
            f"delete {path} (the run writes its request again) and label the new one",
        )
    ids = [_spreadsheet_id(i) for i in table["id"]]
    texts = [unguard(t) for t in table["text"]]
    return Request(ids, texts, [label_value(v, space) for v in table["label"]])


def _spreadsheet_id(cell: str) -> str:
    """An id as written, less what a spreadsheet adds to a whole number (3 saved as 3.0)."""
    cell = cell.strip()
    return cell.removesuffix(".0") if cell.removesuffix(".0").isdigit() else cell


def _choice(task: dict, where: str) -> str:
    """The label of one Label Studio export task: its annotations' `label` choice ('' if none)."""
    picked = set()
    for annotation in _items(task.get("annotations"), where, "annotations"):
        if annotation.get("was_cancelled"):
            continue
        for result in _items(annotation.get("result"), where, "an annotation's result"):
            value = result.get("value")
            choices = value.get("choices") if isinstance(value, dict) else None
            if result.get("from_name", "label") == "label" and choices:
                picked.add(str(_items(choices, where, "a result's choices", str)[0]))
    if len(picked) > 1:
        raise UserError(
            f"{where}: annotators disagree on the text {short(task.get('data', {}).get('text'), 50)} "
            f"({sorted(picked)})",
            "settle the disagreement in Label Studio (one annotation per task), then export again",
        )
    return picked.pop() if picked else ""


def _items(value: object, where: str, what: str, kind: type = dict) -> list:
    """A list of objects (or of `kind`) from a Label Studio export (none for null), else refused."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise UserError(
            f"{where}: {what} is {short(value, 40)}, not a list as Label Studio exports it",
            "export the project again with Label Studio's JSON (or JSON-MIN) format",
        )
    return value


def _table(path: Path) -> pd.DataFrame:
    """A labels file as a table with `text`, `label` and maybe `id` (strings)."""
    if not path.is_file():
        raise UserError(
            f"labels file {path} " + ("is a folder" if path.is_dir() else "does not exist"),
            "pass the file the run wrote, once labeled",
        )
    if path.suffix.lower() not in SUFFIXES:
        workbook = path.suffix.lower() in (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")
        what = f"a spreadsheet workbook ({path.suffix}), not CSV" if workbook else f"of type {path.suffix!r}"
        raise UserError(
            f"labels file {path} is {what}",
            "save it as CSV from the spreadsheet (File > Save As > CSV UTF-8), or pass Label "
            "Studio's JSON export",
        )
    if path.suffix.lower() == ".json":
        if path.stat().st_size > MAX_JSON_BYTES:
            raise UserError(
                f"labels file {path} is {path.stat().st_size:,} bytes, more than any export of one "
                f"request ({MAX_JSON_BYTES:,})",
                "export only the project that holds this run's request",
            )
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(
                f"could not parse labels file {path} as JSON: {e}",
                "export the project again from Label Studio",
            ) from e
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise UserError(
                f"labels file {path} is not a list of Label Studio tasks",
                "export with Label Studio's JSON (or JSON-MIN) format",
            )
        rows = [_task_row(item, n, path) for n, item in enumerate(items)]
        table = pd.DataFrame(rows, columns=["id", "text", "label"]).astype(str)
    else:
        try:
            table = read_table(path)
            for name in {"text", "label"} & set(table.columns):
                column(table, name, path)
        except UserError as e:
            raise UserError(f"labels file: {e.problem}", e.fix) from e
        table = table.astype(str)
        if path.suffix.lower() in (".csv", ".tsv") and "text" in table:  # a spreadsheet's
            table["text"] = table["text"].map(unguard)
    missing = {"text", "label"} - set(table.columns)
    if missing:
        raise UserError(
            f"labels file {path} lacks {sorted(missing)}; its columns are {list(table.columns)}",
            "keep the columns of the file the run wrote (id, text, label)",
        )
    return table


def _task_row(item: dict, n: int, path: Path) -> dict:
    """(id, text, label) of one task of a Label Studio export: the full export (`data` and
    `annotations`) or JSON-MIN (the data's fields and the choice, flat)."""
    full = "data" in item
    data = item["data"] if full else item
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise UserError(
            f"labels file {path}: task {n + 1} has no text ({'data.text' if full else 'text'} is "
            f"{short(data.get('text') if isinstance(data, dict) else data, 40)})",
            "create the Label Studio project from the request's to_label.json and label_config.xml "
            "(they keep each task's text), then export again",
        )
    label = _choice(item, str(path)) if full else item.get("label", "")
    return {"id": data.get("id", ""), "text": data["text"], "label": label}


class Bank(dict):
    """text -> 0/1 from labels files, with every labeled row's (file, id, text) kept to explain a
    request they do not answer (`mismatch`)."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[str, str, str]] = []
        """(file, id or "", text) of every labeled row read."""

    def mismatch(self, request: Request) -> str | None:
        """Why these files do not answer `request` as asked, or None: a labeled row under an id
        the request still waits for, whose text is nearly the asked one but not quite (changed on
        the way, e.g. by a spreadsheet), so it would be asked again forever. Only nearly: a file
        that also holds another request's rows (the test set's ids count from 0 too) has other
        texts under those ids."""
        asked = {str(i): t.strip() for i, t in zip(request.ids, request.texts, strict=True)}
        for path, i, text in self.rows:
            want = asked.get(i)
            if want is not None and want not in self and text != want and _near(text, want):
                return (
                    f"labels file {path} labels id {i} with the text {short(text, 40)}, but the request "
                    f"asked id {i} for {short(want, 40)} (the text changed on the way)"
                )
        return None


def _near(a: str, b: str) -> bool:
    """Two texts that differ only by what a spreadsheet or editor does to one (case, spacing,
    quotes, a few characters)."""
    squash = lambda t: " ".join(t.casefold().replace('"', "").replace("'", "").split())  # noqa: E731
    return difflib.SequenceMatcher(None, squash(a), squash(b)).ratio() >= 0.8


def read_labels(paths: list[Path], space: LabelSpace = TWO) -> Bank:
    """text -> class id from every labels file given; refuses labels that are no class of the
    task and texts that two rows label differently."""
    bank = Bank()
    for path in paths:
        table = _table(Path(path))
        values = table["label"].str.strip()
        empty = values.str.lower().isin(MISSING)
        given = values.map(lambda v: label_value(v, space))
        bad = ~empty & given.isna()
        if bad.any():
            first = table[bad].iloc[0]
            expected = "0 or 1" if space.k == 2 else "one of " + ", ".join(space.names)
            raise UserError(
                f"labels file {path} has {int(bad.sum())} labels that are not {expected} "
                f"(e.g. {values[bad].iloc[0]!r} for {short(first['text'], 50)})",
                f"write {expected} in the label column"
                + (" (1.0 and TRUE read as 1" if space.k == 2 else " (or the class's id")
                + "; leave it empty if not labeled yet)",
            )
        ids = table["id"].str.strip() if "id" in table else pd.Series([""] * len(table), index=table.index)
        texts = table["text"].str.strip()
        for i, text, value in zip(ids[~empty], texts[~empty], given[~empty], strict=True):
            label = int(value)
            bank.rows.append((str(path), _spreadsheet_id(i), text))
            if bank.setdefault(text, label) != label:
                raise UserError(
                    f"labels files give the text {short(text, 60)} two different labels",
                    "keep one label per text (fix the row in the file, or pass only one of the files)",
                )
    return bank
