"""What a report, a labeling request or a results folder does with hostile input: nothing from
the data runs in a browser or a spreadsheet, and nothing is written outside the folder asked
for, nor half-written."""

from __future__ import annotations

import csv
import dataclasses
import errno
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_record, synthetic_texts

from labelbudget.__main__ import main
from labelbudget.analysis.report import write_report
from labelbudget.config import TaskConfig
from labelbudget.labels.labeling import Request, read_labels, read_request, write_request
from labelbudget.runs.run import run
from labelbudget.runs.store import Store
from labelbudget.util.errors import UserError
from labelbudget.util.spreadsheet import FORMULA_STARTS, guard, unguard

TASK_FILE = 'x"><img src=x onerror=alert(5)>.csv'
POSITIVE = "<b onmouseover=alert(4)>pos"
WEAK_COLUMN = "<script>alert(2)</script>"


class Page(HTMLParser):
    """Every element and attribute of a page, and its text (entities decoded)."""

    def __init__(self, page: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_markup_planted_in_a_file_name_a_label_map_and_a_column_is_text_in_the_report(tiny_config, tmp_path):
    """The task file's name, a --label-map class and a weak-label column name, as an attacker
    would plant them, reach the report (its first paragraph, tables and headings) as text: the
    page has no script, no event handler, no image but the embedded plots."""
    data = synthetic_texts(400)
    data["label"] = np.where(data["label"] == 1, POSITIVE, "neg")
    data[WEAK_COLUMN] = np.where(data["label"] == POSITIVE, 0.8, 0.2)
    data["plain"] = np.where(data["label"] == POSITIVE, 0.3, 0.7)
    path = tmp_path / TASK_FILE
    data.to_csv(path, index=False)
    task = TaskConfig(task=str(path), test_size=40, label_map={POSITIVE: 1, "neg": 0})
    cfg = dataclasses.replace(tiny_config, task=task, weak_labels=f"column:{WEAK_COLUMN}", learner="probe")
    inverted = dataclasses.replace(task, label_map={POSITIVE: 0, "neg": 1})  # two variants: both named
    run(cfg, tmp_path / "results")
    run(dataclasses.replace(cfg, task=inverted, weak_labels="column:plain"), tmp_path / "results")
    page = Page(write_report(tmp_path / "results").read_text())
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags
    assert not [(tag, a) for tag, attrs in page.elements for a in attrs if a.lower().startswith("on")]
    assert all(
        attrs["src"].startswith("data:image/png;base64,") for tag, attrs in page.elements if tag == "img"
    )
    assert all(attrs == {} for tag, attrs in page.elements if tag == "b")
    text = "".join(page.text)
    first = text[text.index("runs from") :][:2000]  # the first paragraph names all three
    assert TASK_FILE in first and POSITIVE in first and f"column:{WEAK_COLUMN}" in first


@pytest.fixture
def results(tmp_path) -> Path:
    """A results folder with a few stored runs (enough for a report)."""
    store = Store(tmp_path / "results")
    for seed in (0, 1):
        for f in (0.0, 0.5, 1.0):
            store.add(make_record(f=f, seed=seed, accuracy=0.6 + 0.1 * f + 0.01 * seed))
    return tmp_path / "results"


@pytest.mark.parametrize("name", ["report.html", "report.csv"])
def test_a_link_in_the_results_folder_is_refused_and_nothing_is_written(results, tmp_path, name, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (results / name).symlink_to(outside)
    assert main(["report", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert f"{results / name} is a symbolic link" in err and "fix: remove the link" in err
    assert outside.read_text() == "precious"
    assert {p.name for p in results.iterdir()} == {"labelbudget.sqlite", name}


def test_a_run_refuses_a_linked_labeling_folder_before_any_work(tiny_config, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "labeling").symlink_to(elsewhere, target_is_directory=True)
    cfg = dataclasses.replace(tiny_config, method="uncertainty", oracle="file")
    with pytest.raises(UserError, match="labeling is a symbolic link"):
        run(cfg, tmp_path / "results")
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["labeling"]


def test_the_report_replaces_a_link_given_as_out_and_never_writes_through_it(results, tmp_path):
    outside = tmp_path / "outside.html"
    outside.write_text("precious")
    link = tmp_path / "mine.html"
    link.symlink_to(outside)
    assert write_report(results, link) == link
    assert outside.read_text() == "precious"
    assert not link.is_symlink() and "labelbudget report" in link.read_text()


def test_a_full_disk_during_the_report_leaves_the_files_as_they_were(results, monkeypatch, capsys):
    """Each file is written to a temporary file beside it, then moved: a write that fails leaves
    the previous report.csv (here: "old"), never an empty one, and no temporary file."""
    (results / "report.csv").write_text("old")

    def full(self, path, *args, **kwargs):
        Path(path).write_text("")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["report", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "fix: free disk space" in err
    assert (results / "report.csv").read_text() == "old"
    assert sorted(p.name for p in results.iterdir()) == ["labelbudget.sqlite", "report.csv"]


def test_the_report_refuses_to_write_over_the_store(results, capsys):
    before = (results / "labelbudget.sqlite").read_bytes()
    assert main(["report", "--results", str(results), "--out", str(results / "labelbudget.sqlite")]) == 2
    assert "would write over the results store" in capsys.readouterr().err
    assert (results / "labelbudget.sqlite").read_bytes() == before


FORMULAS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "'=already quoted",
    "'tis a plain text",
    "a plain text",
]


def test_texts_that_start_like_formulas_are_guarded_in_the_request_and_read_back_exactly(tmp_path):
    """to_label.csv is opened in a spreadsheet: no cell starts like a formula. The labels come
    back matched to the texts asked, whether the spreadsheet kept the guard or dropped it."""
    ids = list(range(len(FORMULAS)))
    write_request(tmp_path, Request(ids, FORMULAS, [None] * len(FORMULAS)))
    with (tmp_path / "to_label.csv").open(newline="", encoding="utf-8") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert read_request(tmp_path).texts == FORMULAS
    table = pd.read_csv(tmp_path / "to_label.csv", dtype=str, keep_default_na=False)
    gold = {t: i % 2 for i, t in enumerate(FORMULAS)}
    table["label"] = [str(i % 2) for i in ids]
    table.to_csv(tmp_path / "kept.csv", index=False)  # the guard kept, as LibreOffice saves it
    table.assign(text=FORMULAS[:4] + list(table["text"][4:])).to_csv(tmp_path / "dropped.csv", index=False)
    expected = {t.strip(): g for t, g in gold.items()}
    assert read_labels([tmp_path / "kept.csv"]) == expected
    assert read_labels([tmp_path / "dropped.csv"]) == expected  # a spreadsheet that hid the guard


def test_guard_is_undone_exactly():
    for text in [*FORMULAS, "''=x", "'", "", "=", "''", "'@", "+"]:
        assert unguard(guard(text)) == text
        assert not guard(text).startswith(FORMULA_STARTS)


def test_the_records_csv_guards_its_texts(results):
    Store(results).add(make_record(task='=HYPERLINK("http://evil.example")', seed=5))
    write_report(results)
    rows = pd.read_csv(results / "report.csv", dtype=str, keep_default_na=False)
    assert sorted(rows["task"])[0] == """'=HYPERLINK("http://evil.example")"""


def test_a_link_inside_the_results_folder_stops_a_sweep_and_weak_too(results, tmp_path, capsys):
    (results / "artifacts").symlink_to(tmp_path, target_is_directory=True)
    for argv in (["sweep", "--budgets", "16", "--seeds", "0", "--hq-fractions", "1"], ["weak"]):
        assert main([*argv, "--results", str(results)]) == 2
        assert "artifacts is a symbolic link" in capsys.readouterr().err
    assert os.readlink(results / "artifacts") == str(tmp_path)
