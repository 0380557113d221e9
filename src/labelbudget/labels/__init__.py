"""Stage 2, labels: what a run may buy and where the labels come from.

- `budget`: the paper's split of a budget into an allocation (n_weak, n_hq), the stage sizes it
  allows, the disjoint weak and HQ sides of the pool;
- `sources`: the label-source protocol and registry, and the ledger that meters a run's spend;
- `trained`: weak labels from a small model fine-tuned on ground truth (the paper's);
- `person`: HQ labels from a person, through a labeling file (the run pauses and resumes).
"""

from labelbudget.labels import external, person, prompt, trained  # noqa: F401  (each registers its source)
from labelbudget.labels.sources import SOURCES, LabelSource, Ledger, SourceSpec, register_source

__all__ = ["SOURCES", "LabelSource", "Ledger", "SourceSpec", "register_source"]
