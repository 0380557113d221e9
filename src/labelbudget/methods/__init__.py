"""Stage 6, methods: the paper's elicitation methods, each one module and one registration.

`base` holds the protocol (`Method`, its `Elicitation` context) and the registry; `seq_sft`
(sequential SFT, the base of the SFT variants), `prompted` (few-shot-prompted SFT),
`uncertainty` (uncertainty sampling), `logconf` (the log-confidence loss) and `icl` (few-shot
in-context learning). The SFT methods train a learner (`learners`), chosen per run.
"""

from labelbudget.methods import icl, logconf, prompted, seq_sft, uncertainty  # noqa: F401
from labelbudget.methods.base import METHODS, Elicitation, Method, MethodSpec, get_method, register_method

__all__ = ["METHODS", "Elicitation", "Method", "MethodSpec", "get_method", "register_method"]
