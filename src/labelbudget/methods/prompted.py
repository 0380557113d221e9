"""Few-shot-prompted sequential SFT (paper Sec. 3.2, Fig. 4-5): sequential SFT where every
training, validation and test input is prefixed by the same k weak-labeled demonstrations
(k = 2 in the paper's main results), in a freshly shuffled order per input. The demonstrations
are bought like any weak label, so they count toward n_weak and the weak stage gets the rest."""

from __future__ import annotations

from labelbudget.budget import Allocation, check_stage_sizes
from labelbudget.config import RunConfig
from labelbudget.errors import UserError
from labelbudget.methods import Elicitation, k_shot, register_method
from labelbudget.methods.seq_sft import SequentialSFT
from labelbudget.prompts import Demo, harden

DEFAULT_K = 2


class PromptedSequentialSFT(SequentialSFT):
    @classmethod
    def validate(cls, config: RunConfig, allocation: Allocation) -> None:
        k = k_shot(config, DEFAULT_K)
        if allocation.n_weak < k:
            raise UserError(
                f"prompted_seq_sft needs {k} weak labels for its demonstrations but budget "
                f"${config.budget:g} with --hq-fraction {config.hq_fraction:g} buys {allocation.n_weak}",
                "raise --budget, lower --hq-fraction, or lower --k-shot",
            )
        rest = Allocation(allocation.n_weak - k, allocation.n_hq)
        check_stage_sizes(
            rest,
            config.budget,
            config.weak_cost,
            config.hq_fraction,
            min_stage=1 if config.options.schedule == "openai" else None,
            what=f"after its {k} demonstrations, ",
        )

    def demonstrations(self, ctx: Elicitation) -> list[Demo]:
        ids, probs = ctx.weak.buy(k_shot(ctx.config, DEFAULT_K))
        return list(zip(ctx.pool_texts(ids), harden(probs).tolist(), strict=True))


register_method(
    "prompted_seq_sft",
    "sequential SFT on inputs prefixed by k weak-labeled demonstrations (default 2)",
    PromptedSequentialSFT,
)
