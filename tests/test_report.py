"""The report as a document (issue 39), for K classes (issue 37) and several sources (issue 38):
stores of records as sweeps write them, with a known accuracy surface, and what the page and its
figures' data then say."""

from __future__ import annotations

import dataclasses
import math
import re
from html.parser import HTMLParser

import numpy as np
from conftest import make_record

from labelbudget.allocation import SourceConfig, split
from labelbudget.runs.store import Store

SOURCES = ("llm=column:llm@0.01", "crowd=column:crowd@0.1", "expert=ground-truth@1")
SIMPLEX = (
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (0.5, 0.5, 0),
    (0.5, 0, 0.5),
    (0, 0.5, 0.5),
    (1 / 3, 1 / 3, 1 / 3),
)
CLASSES = ("negative", "neutral", "positive")


def three_sources(llm: int, crowd: int, expert: int) -> float:
    """A known surface: each source adds information at its own rate, with diminishing returns."""
    info = (0.6 * math.log10(1 + llm) + 1.0 * math.log10(1 + crowd) + 1.6 * math.log10(1 + expert)) / 4
    return 0.5 + 0.35 * (1 - math.exp(-1.5 * info))


def several_store(path, budgets=(16, 64, 256), seeds=(0, 1)) -> Store:
    """Runs over three sources at the simplex's vertices, edge midpoints and centre per budget."""
    store = Store(path)
    sources = [SourceConfig.parse(s) for s in SOURCES]
    prices = {s.name: s.price for s in sources}
    rng = np.random.default_rng(0)
    for seed in seeds:
        for budget in budgets:
            for point in SIMPLEX:
                shares = dict(zip(prices, point, strict=True))
                alloc = split(budget, sources, shares)
                r = make_record(
                    budget=budget,
                    seed=seed,
                    accuracy=three_sources(*alloc.values) + rng.normal(0, 0.01),
                    task="tweets",
                    sources=SOURCES,
                    shares=tuple(f"{k}={v!r}" for k, v in shares.items()),
                )
                store.add(
                    dataclasses.replace(
                        r,
                        counts=dict(alloc.counts),
                        prices=prices,
                        n_weak=alloc.n_weak,
                        n_hq=alloc.n_hq,
                        spent=alloc.cost(prices),
                    )
                )
    return store


def k_record(budget: float, f: float, seed: int, accuracy: float, n_per_class: int = 300):
    """A 3-class run: its confusion matrix (rows gold), macro-F1 and calibration error, and weak
    labels measured over three classes."""
    r = make_record(task="tweets-3", budget=budget, f=f, seed=seed, accuracy=accuracy, weak_accuracy=0.6)
    right = [round(n_per_class * a) for a in (accuracy + 0.08, accuracy - 0.15, accuracy + 0.07)]
    confusion = [
        [right[0], n_per_class - right[0] - 5, 5],
        [(n_per_class - right[1]) // 2, right[1], n_per_class - right[1] - (n_per_class - right[1]) // 2],
        [4, n_per_class - right[2] - 4, right[2]],
    ]
    weak = {
        "against": "test split",
        "n": 3 * n_per_class,
        "accuracy": 0.6,
        "accuracy_lo": 0.57,
        "accuracy_hi": 0.63,
        "ece": 0.08,
        "ece_lo": 0.06,
        "ece_hi": 0.1,
        "confusion": [[220, 60, 20], [90, 150, 60], [25, 65, 210]],
        "mean_p": [0.37, 0.30, 0.33],
    }
    return dataclasses.replace(
        r,
        classes=list(CLASSES),
        n_test=3 * n_per_class,
        macro_f1=accuracy - 0.03,
        calibration_error=0.05,
        confusion=confusion,
        weak_quality=weak,
    )


def k_store(path) -> Store:
    store = Store(path)
    for seed in (0, 1):
        for budget in (16, 64, 256):
            for f in (0.0, 0.2, 0.5, 1.0):
                acc = 0.45 + 0.04 * math.log2(budget) / 2 + (0.03 if f == 0.2 else 0) + 0.01 * seed
                store.add(k_record(budget, f, seed, acc))
    return store


def binary_store(path) -> Store:
    store = Store(path)
    for seed in (0, 1):
        for budget in (16, 64, 256):
            for f in (0.0, 0.2, 0.5, 1.0):
                for method in ("seq_sft", "uncertainty"):
                    acc = 0.55 + 0.05 * math.log2(budget) / 2 + (0.02 if f == 0.2 else 0) + 0.01 * seed
                    store.add(make_record(method=method, budget=budget, f=f, seed=seed, accuracy=acc))
    return store


class Page(HTMLParser):
    """A page's sections (h2 title -> its HTML up to the next h2) and its tables' headers."""

    def __init__(self, page: str):
        super().__init__()
        self.headers: list[str] = []
        self._in_th = False
        self.feed(page)
        self.sections = dict(re.findall(r"<h2>(.*?)</h2>(.*?)(?=<h2>|</body>)", page, flags=re.S))

    def handle_starttag(self, tag, attrs):
        self._in_th = tag == "th"

    def handle_endtag(self, tag):
        self._in_th = False

    def handle_data(self, data):
        if self._in_th:
            self.headers.append(data)

    def section(self, start: str) -> str:
        (found,) = [body for title, body in self.sections.items() if title.startswith(start)]
        return found


def report_page(results) -> Page:
    from labelbudget.analysis.report import write_report

    return Page(write_report(results).read_text())


RAW_NAMES = ("distance_decades", "weak_fraction", "run_flags", "n_weak", "n_hq", "hq_fraction", "run_budget")


def test_a_binary_report_reads_as_a_document(tmp_path):
    binary_store(tmp_path)
    page = report_page(tmp_path)
    titles = list(page.sections)
    # how to read it first, then the answer, then the plan and the figure it rests on
    assert titles[0] == "How to read this" and titles[1] == "The answer"
    assert titles.index("The answer") < titles.index("The plan: what to buy at each budget")
    figure = page.section("Figure 1")
    assert "fitted model" in figure and figure.count("<img") >= 1
    # column names in words, numbers formatted for people
    assert not set(RAW_NAMES) & set(page.headers)
    text = "".join(page.sections.values())
    prose = re.sub(r"<[^>]+>", " ", re.sub(r"<code>.*?</code>", "", text))  # commands keep exact shares
    assert "16.000" not in prose and "$16" in prose and not re.search(r"\d\.\d{5,}", prose)
    # every "to run it" line is a complete command: it names the task and the results folder
    commands = re.findall(r"<code>(labelbudget run [^<]*)</code>", page.section("The plan"))
    assert commands and all("--results" in c for c in commands)


def test_a_k_class_report_shows_the_classes_and_their_metrics(tmp_path):
    k_store(tmp_path)
    page = report_page(tmp_path)
    classes = page.section("The classes")
    for name in CLASSES:
        assert f"{name} 300 (33%)" in classes
    assert "macro-F1" in page.headers and "calibration error" in page.headers
    # the best allocation's confusion matrix, rows the gold class, in shares
    assert "gold \\ predicted" in page.headers
    assert "positive taken for neutral" in classes


def test_a_three_source_report_answers_per_source_with_a_triangle_per_budget(tmp_path):
    several_store(tmp_path)
    page = report_page(tmp_path)
    answer = page.section("The answer")
    assert "of the budget on llm" in answer and "of the budget on expert" in answer
    assert " weak + " not in answer  # the sources by name, not the pair's words
    triangles = page.section("Three sources")
    assert triangles.count("<img") == 3  # one per budget run
    for budget in ("$16", "$64", "$256"):
        assert f"{budget}: recommended" in triangles
    plan = page.section("The plan")
    commands = re.findall(r"<code>(labelbudget run [^<]*)</code>", plan)
    assert len(commands) == 5
    for command in commands:
        shares = re.search(r"--shares ((?:\S+=\S+ ?)+)", command).group(1).split()
        assert all(len(s.split("=")[1]) <= 14 for s in shares), shares  # no float noise
        values = [float(s.split("=")[1]) for s in shares]
        assert abs(sum(values) - 1) < 1e-6
