"""Stage 4, training: one supervised stage, as every SFT method and the weak model run it.

- `stage`: the explicit loop (random batches, packed forward passes, accumulated micro-batches,
  validation, best-state restore) and scoring (`predict`);
- `schedule`: how long a stage trains and when it stops (early stopping, OpenAI-like, fixed);
- `losses`: soft cross-entropy and the log-confidence auxiliary loss.
"""
