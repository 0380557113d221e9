"""Stage 5, learners: what the SFT methods train. `lora` (the paper's: LoRA + a new head on the
strong model) and `probe` (a new linear head on its cached activations); `base` holds the
protocol and the registry. Adding one is one module and one `register_learner` line."""

from labelbudget.learners import lora, probe  # noqa: F401  (each registers itself)
from labelbudget.learners.base import LEARNERS, Learner, LearnerSpec, register_learner

__all__ = ["LEARNERS", "Learner", "LearnerSpec", "register_learner"]
