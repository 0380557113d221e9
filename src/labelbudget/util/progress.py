"""Progress that reaches a terminal and a log file alike.

On a terminal: tqdm's bars. Anywhere else (output redirected to a file, a CI log, a Ray worker's
log), tqdm would either stay silent (`disable=None`) or fill the file with carriage returns and
cursor escapes; there a bar is instead a plain line every `LABELBUDGET_PROGRESS_SECONDS` (30 by
default) with its count, rate and ETA, and a last line when an outer bar ends, so that a log shows
that a long step is alive and how long it has left. Bars shorter than the interval print nothing.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm

INTERVAL = 30.0
"""Seconds between two lines of one bar in a log (`LABELBUDGET_PROGRESS_SECONDS`)."""

LINE = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%), {elapsed} elapsed, ETA {remaining}, {rate_fmt}"
LINE += "{postfix}"
EARLY = LINE.replace("ETA {remaining}, {rate_fmt}", "ETA ?")

SETTLED = 5
"""A log line says "ETA ?" until a bar has done this many items itself: the first items carry the
one-off costs (the demo's first run trains the weak labeler and caches activations, 136 s, and
the runs after it take 0.2 s), and an ETA from them read 23 hours for a 4-minute sweep."""


def interactive() -> bool:
    return sys.stderr.isatty()


class LogLines(tqdm):
    """A tqdm that writes whole lines, at most one per interval, and a last one when a bar that
    has shown a line closes (with `leave`, as outer bars do)."""

    def __init__(self, *args, **kwargs):
        self._printed = time.time()
        self._closing = self._shown = False
        kwargs["disable"] = bool(kwargs.get("disable"))  # tqdm's None (off a terminal) is on here
        kwargs["file"] = _Discard()  # tqdm's own writes (\r, \n, escapes) go nowhere; `display` prints
        kwargs.setdefault("bar_format", LINE if kwargs.get("total") or _sized(args) else "{desc}: {n_fmt}")
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None) -> bool:
        if msg == "" or self.n == 0:
            return True
        now = time.time()
        if now - self._printed < self.mininterval and not (self._closing and self._shown):
            return True
        self._printed, self._shown = now, True
        meter = self.format_dict
        if meter["bar_format"] == LINE and self.n - self.initial < SETTLED:
            meter["bar_format"] = EARLY
        print(self.format_meter(**meter).strip(), file=sys.stderr, flush=True)
        return True

    def close(self) -> None:
        self._closing = self.leave and not self.disable
        super().close()


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _sized(args) -> bool:
    return bool(args) and hasattr(args[0], "__len__")


def progress(*args, **kwargs) -> tqdm:
    """`tqdm(*args, **kwargs)` on a terminal, `LogLines` elsewhere."""
    if interactive():
        return tqdm(*args, **kwargs)
    kwargs["mininterval"] = float(os.environ.get("LABELBUDGET_PROGRESS_SECONDS", INTERVAL))
    kwargs.pop("dynamic_ncols", None)
    return LogLines(*args, **kwargs)


def quiet_libraries() -> None:
    """Off a terminal, the libraries' own bars (transformers' "Loading weights", the hub's
    downloads) say nothing worth a log line: off."""
    if interactive():
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
