"""Few-shot-prompted sequential SFT (paper Sec. 3.2, Fig. 4-5): sequential SFT where every
training, validation and test input is prefixed by the same k demonstrations (k = 2 in the
paper's main results), in a freshly shuffled order per input.

The demonstrations are bought like any label and count toward what the run paid: weak-labeled
(as the paper's main results) whenever the allocation buys weak labels, the weak stage getting
the rest; in an all-HQ allocation they are HQ-labeled from the oracle, the HQ stage getting the
rest, as the authors' `FewShotPromptedSFTReporter` (`w2s/reporter.py`) drew its prompt from the
oracle. The paper found the demonstrations' quality inconsequential (Fig. 4)."""

from __future__ import annotations

import numpy as np

from labelbudget.config import RunConfig
from labelbudget.labels.budget import Allocation, check_stage_sizes
from labelbudget.methods.base import Elicitation, k_shot, register_method
from labelbudget.methods.seq_sft import SFT_OPTIONS, SequentialSFT
from labelbudget.prompts import Demo, harden
from labelbudget.util.errors import UserError

DEFAULT_K = 2


class PromptedSequentialSFT(SequentialSFT):
    @classmethod
    def validate(cls, config: RunConfig, allocation: Allocation) -> None:
        k = k_shot(config, DEFAULT_K)
        source = demo_source(allocation)
        have = allocation[source]
        if have < k:
            kind = "weak" if source == "weak" else "HQ" if source == "hq" else source
            split = (
                f"--shares {' '.join(config.shares)}"
                if config.sources
                else f"--hq-fraction {config.hq_fraction:g}"
            )
            raise UserError(
                f"prompted_seq_sft needs {k} {kind} labels for its demonstrations but budget "
                f"${config.budget:g} with {split} buys {have}",
                "raise --budget, change "
                + ("--shares" if config.sources else "--hq-fraction")
                + ", or lower --k-shot",
            )
        rest = Allocation(tuple((n, c - k if n == source else c) for n, c in allocation.counts))
        check_stage_sizes(
            rest,
            config,
            min_stage=1 if config.options.schedule == "openai" else None,
            what=f"after its {k} demonstrations, ",
        )

    def demonstrations(self, ctx: Elicitation) -> list[Demo]:
        k = k_shot(ctx.config, DEFAULT_K)
        source = demo_source(ctx.allocation)
        if source != ctx.oracle.name:  # the cheapest source bought sells them by count
            ids, probs = next(s for s in ctx.sources if s.name == source).buy(k)
            labels = harden(probs)
        else:  # all-HQ: the demonstrations come from the oracle, and the HQ stage gets the rest
            ids, ctx.hq_candidates = ctx.hq_candidates[:k], ctx.hq_candidates[k:]
            labels = harden(ctx.oracle.label(ids))
        return list(zip(ctx.pool_texts(ids), np.asarray(labels).astype(int).tolist(), strict=True))


def demo_source(allocation: Allocation) -> str:
    """The source of the demonstrations: the cheapest one the allocation buys (the paper's weak
    labels; the HQ ones where it buys no weak label)."""
    return next(name for name, n in allocation.counts if n) if allocation.total else allocation.names[-1]


register_method(
    "prompted_seq_sft",
    "sequential SFT on inputs prefixed by k weak-labeled demonstrations (default 2)",
    PromptedSequentialSFT,
    reads=(*SFT_OPTIONS, "k_shot"),
)
