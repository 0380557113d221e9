"""How the report writes HTML: the one escaping function, numbers as people read them, and tables
and images built from escaped text.

A report is a file people send each other, and its strings come from data, configs and file
names (a task file may be named `x"><img src=x onerror=...>.csv`): every one of them reaches the
HTML through `esc`, table cells and headers included (pandas' own escaping is not used: one path
for all HTML), so none is ever markup.

Numbers are written for a reader, not as a data frame prints them (issue 39): money as $16,
$1,024, $63.90 or $0.01; counts with thousands separators (1,280); accuracies to 3 decimals, an
interval as 0.712 [0.68, 0.74]; probabilities to 2 decimals; shares as percentages.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

PAIR = ("weak", "hq")


def esc(value: object) -> str:
    """The one way any string reaches the HTML: as text, never markup (quotes too, for
    attributes)."""
    return html.escape(str(value), quote=True)


class Lines(tuple):
    """A table cell of several lines, each escaped, one under the other (keeps tables narrow)."""


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value))


def money(x: float) -> str:
    """$16, $1,024, $63.90, $0.10, $0.001."""
    if missing(x):
        return "n/a"
    x = float(x)
    if abs(x - round(x)) < 1e-9:
        return f"${round(x):,}"
    if x >= 1 or abs(x * 100 - round(x * 100)) < 1e-9:
        return f"${x:,.2f}"
    return f"${x:.3g}"


def count(n: float) -> str:
    return "n/a" if missing(n) else f"{int(round(float(n))):,}"


def accuracy(x: float) -> str:
    return "n/a" if missing(x) else f"{float(x):.3f}"


def interval(mean: float, lo: float, hi: float) -> str:
    """An accuracy with its 95% interval: 0.712 [0.68, 0.74]."""
    if missing(mean):
        return "n/a"
    return f"{float(mean):.3f} [{float(lo):.2f}, {float(hi):.2f}]"


def with_se(mean: float, se: float) -> str:
    """A mean over seeds with its standard error: 0.712 ± 0.010 (one seed: no spread known)."""
    return accuracy(mean) + ("" if missing(se) else f" ± {float(se):.3f}")


def probability(p: float) -> str:
    return "n/a" if missing(p) else f"{float(p):.2f}"


def percent(x: float) -> str:
    return "n/a" if missing(x) else f"{float(x):.0%}"


def signed(x: float) -> str:
    return "n/a" if missing(x) else f"{float(x):+.3f}"


def source_name(name: str) -> str:
    """A source as the reader knows it: the paper's pair as weak and HQ, others by their names."""
    return "HQ" if name == "hq" else name


def bought(counts: Iterable[int], sources: Iterable[str] = PAIR) -> str:
    """What an allocation buys: "1,280 weak + 128 HQ", "570 llm + 53 crowd + 5 expert" (a count
    and its source never broken apart)."""
    return " + ".join(f"{count(n)}\u00a0{source_name(s)}" for s, n in zip(sources, counts, strict=True))


def spend(shares: Mapping[str, float]) -> Lines:
    """The budget's split across the sources bought, one per line ("llm 70%")."""
    return Lines(f"{source_name(s)} {percent(v)}" for s, v in shares.items() if v > 0)


def money_shares(counts: Iterable[int], sources: Iterable[str], prices: Iterable[float]) -> dict[str, float]:
    money_spent = {s: n * p for s, n, p in zip(sources, counts, prices, strict=True)}
    total = sum(money_spent.values())
    return {s: v / total if total else 0.0 for s, v in money_spent.items()}


def cell(value: object) -> str:
    """A table cell as HTML text: several lines joined by line breaks, integers with thousands
    separators, floats to 3 decimals, missing values as n/a, every string escaped."""
    if isinstance(value, Lines):
        return "<br>".join(esc(line) for line in value)
    if missing(value):
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return count(value)
    if isinstance(value, float | np.floating):
        return f"{value:.3f}"
    return esc(value)


NUMBER = re.compile(r"^(n/a|-|[-+]?\$?[\d,.]+%?( \[[\d.]+, [\d.]+\])?( ± [\d.]+)?)$")
"""A cell that reads as a number (money, a count, an accuracy with its interval): right-aligned
and never broken across lines."""


def _numeric(column: pd.Series) -> bool:
    firsts = [v[0] if isinstance(v, Lines) and v else v for v in column]
    return all(missing(v) or isinstance(v, int | float | np.number) or NUMBER.match(str(v)) for v in firsts)


def table(rows: pd.DataFrame | list[dict]) -> str:
    """A table whose every cell and header went through `esc`; columns of numbers right-aligned
    and unbroken, columns of words left-aligned (they wrap, so the table fits the page)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if df.empty:
        return "<p><i>nothing to show</i></p>"
    kinds = [' class="num"' if _numeric(df[c]) else "" for c in df.columns]
    head = "".join(f"<th{k}>{esc(c)}</th>" for c, k in zip(df.columns, kinds, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{cell(v)}</td>" for v, k in zip(row, kinds, strict=True)) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def img(path: Path | None, alt: str) -> str:
    if path is None:
        return "<p><i>not enough data for this plot</i></p>"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def bullets(items: Iterable[str], klass: str = "") -> str:
    attr = f' class="{esc(klass)}"' if klass else ""
    return f"<ul{attr}>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "line-height:1.45;color:#222}"
    "h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}"
    "table{border-collapse:collapse;font-size:13px;margin:.5em 0 1em;max-width:100%}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top;"
    "overflow-wrap:break-word}"
    "th{background:#f4f4f4;vertical-align:bottom}.num{text-align:right;white-space:nowrap}"
    ".read h2{margin-top:.4em}"
    "img{max-width:100%}code{font-size:12px;overflow-wrap:anywhere;background:#f4f4f4;padding:0 2px}"
    ".read{background:#f7f9fc;border:1px solid #dde4ee;padding:.5em 1.2em;border-radius:4px}"
    ".answer li{margin:.3em 0}figcaption{font-size:13px;color:#555}"
    ".figures{display:flex;flex-wrap:wrap;gap:1%}.figures figure{width:49%;margin:0 0 1em}"
)
