"""Cells written for people to open in a spreadsheet: a text that starts like a formula is
guarded, so that opening the file never runs it.

Spreadsheets read a cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`,
`+1+cmd|' /C calc'!A0`), and a tab or carriage return before one as well (OWASP, "CSV
Injection"). Such a text is written behind a `'`, which spreadsheets take as "this is text".
The guard is undone on reading (`unguard`), whether the spreadsheet kept the `'` or dropped it
on saving, so a labels file still matches the texts it labels; a text that itself starts with
`'` and then one of those characters gets a second `'`, so that undoing is exact.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula."""


def _needs_guard(text: str) -> bool:
    """Whether `text` would be read as a formula, or taken for a guarded text on reading."""
    return text.startswith(FORMULA_STARTS) or (
        text.startswith("'") and text[1:].startswith((*FORMULA_STARTS, "'"))
    )


def guard(text: str) -> str:
    """`text` as written in a cell for people: behind a `'` where it starts like a formula."""
    return "'" + text if _needs_guard(text) else text


def unguard(text: str) -> str:
    """The text a guarded cell holds (the inverse of `guard`; a cell the spreadsheet saved
    without the `'` is the text already)."""
    return text[1:] if text.startswith("'") and _needs_guard(text[1:]) else text


def guard_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell (and column name) of a table guarded; numbers stay numbers."""
    guarded = df.map(lambda v: guard(v) if isinstance(v, str) else v)
    return guarded.rename(columns=lambda c: guard(c) if isinstance(c, str) else c)
