"""Sequential SFT with the log-confidence auxiliary loss in the weak stage (Burns et al. 2023;
PROTOCOL method 5): micro-batches of 8 (8 x 4 accumulation, as the authors), coefficient warm-up
over 200 steps to 0.5, quantile hardening. The loss itself lives in `training.losses`. With k
label sources it applies to every stage but the most expensive source's (the paper's: the weak
stage, not the HQ one)."""

from __future__ import annotations

from labelbudget.methods.base import register_method
from labelbudget.methods.seq_sft import SFT_OPTIONS, SequentialSFT


class LogConfidenceSFT(SequentialSFT):
    def stage_loss(self, stage: str) -> str:
        return "xent" if stage == self.stage_names[-1] else "logconf"


register_method(
    "logconf",
    "sequential SFT with the log-confidence loss in the weak stage",
    LogConfidenceSFT,
    reads=SFT_OPTIONS,
    all_hq_is="seq_sft",  # no weak stage, no log-confidence loss: the HQ stage is seq_sft's
)
