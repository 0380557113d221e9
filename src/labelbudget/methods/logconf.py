"""Sequential SFT with the log-confidence auxiliary loss in the weak stage (Burns et al. 2023;
PROTOCOL method 5): minibatch 8, coefficient warm-up over 200 steps to 0.5, quantile hardening.
The loss itself lives in `labelbudget.losses` and is available to any stage (`--weak-loss`,
`--hq-loss`); this method is sequential SFT with the paper's choice fixed."""

from __future__ import annotations

from labelbudget.methods import Elicitation, register_method
from labelbudget.methods.seq_sft import SequentialSFT


class LogConfidenceSFT(SequentialSFT):
    def stage_loss(self, ctx: Elicitation, stage: str) -> str:
        return "logconf" if stage == "weak" else ctx.config.options.hq_loss


register_method("logconf", "sequential SFT with the log-confidence loss in the weak stage", LogConfidenceSFT)
