"""The paper's regimes (Fig. 1) at each budget, from the accuracy surface (`analysis.surface`).

- The **regime** at budget B (paper, Fig. 1) is where the accuracy peak lies along the budget
  line, over the allocations on it (those measured there, exactly as they were run: a share
  rounded to two decimals would name allocations nobody ran; the paper's fractions by default):
  at all-weak (quantity-dominant), at a mix (mixed), or at all-HQ (quality-dominant).
  Its probability is the share of joint posterior draws of the line whose maximum lies there, so
  the best of many noisy mixes is not credited with its luck (no winner's curse); a regime is
  decided where its probability reaches `DECIDE` (0.95), else the probabilities are the answer.
  The paper reads regimes off its figure; it calls $256 mixed where all-weak is 0.74, all-HQ 0.68
  and the peak 0.78 at 40% of the budget on weak labels, which is what this rule says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelbudget.analysis.surface import Surface
from labelbudget.labels.budget import allocate

DECIDE = 0.95
"""The probability at which a regime counts as decided."""

PAPER_SHARES = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0)
"""The paper's HQ fractions: the budget-line points where none were measured."""

DRAWS = 4000

MARGIN = 0.01
"""A mix counts as the peak of a posterior draw only where it beats the better pure strategy by
at least this much accuracy (one point); a smaller gain is a tie, credited to that pure
strategy. Without it a flat top (every mix as good as all-weak) is called mixed whenever noise
favours the many mixes over the one end."""

REGIMES = ("quantity-dominant", "mixed", "quality-dominant")
"""The paper's regimes of its two sources; with k sources, a regime is the set of sources the peak
buys (`kind`), named by them ("llm+expert")."""

PAIR = ("weak", "hq")


def kind(n_weak, n_hq=None, sources: tuple[str, ...] = PAIR) -> str:
    """An allocation's kind, by what it actually buys: the paper's regimes for its two sources
    (`kind(n_weak, n_hq)`), else the sources bought (`kind(counts, sources=...)`)."""
    counts = (n_weak, n_hq) if n_hq is not None else tuple(n_weak)
    if tuple(sources) == PAIR:
        weak, hq = counts
        return "quantity-dominant" if hq == 0 else "quality-dominant" if weak == 0 else "mixed"
    return "+".join(s for s, n in zip(sources, counts, strict=True) if n) or "nothing"


def kinds_of(allocs: np.ndarray, sources: tuple[str, ...] = PAIR) -> list[str]:
    return [
        kind(tuple(int(c) for c in a), sources=sources)
        for a in np.asarray(allocs).reshape(len(allocs), len(sources))  # none: an empty line
    ]


def regimes_of(sources: tuple[str, ...], kinds: list[str]) -> tuple[str, ...]:
    """The regimes whose probability an answer gives: the paper's three for its pair, else the
    kinds the line's allocations have."""
    return REGIMES if tuple(sources) == PAIR else tuple(dict.fromkeys(kinds))


def line(budget: float, weak_cost: float, shares) -> np.ndarray:
    """The distinct allocations (n_weak, n_hq) that spend `budget` at these HQ shares."""
    seen = {}
    for s in sorted(shares):
        a = allocate(budget, weak_cost, float(s))
        if a.n_weak + a.n_hq:
            seen.setdefault((a.n_weak, a.n_hq), float(s))
    return np.array(list(seen), dtype=float).reshape(-1, 2)


def simplex(budget: float, sources, points) -> np.ndarray:
    """The distinct allocations that spend `budget` over these sources (`SourceConfig`s with their
    prices) at these points of the simplex (each a dict of shares): a budget's line over k sources."""
    from labelbudget.allocation import split

    seen = {split(budget, sources, point).values: None for point in points}
    return np.array([a for a in seen if sum(a)], dtype=float).reshape(-1, len(sources))


def one_kind(allocs: np.ndarray, sources: tuple[str, ...] = PAIR) -> bool:
    """Whether a line's allocations are all of one kind: no regime to ask for."""
    return len(set(kinds_of(allocs, sources))) < 2


def _peaks(draws: np.ndarray, kinds: list[str], margin: float = MARGIN) -> np.ndarray:
    """Per posterior draw, the position of the peak along the line (`MARGIN` decides ties
    between a mix and the better pure strategy: an allocation buying more sources counts only
    where it beats the best one buying a subset of them by `margin`)."""
    winner = draws.argmax(1)
    support = [frozenset(k.split("+")) if "+" in k or k not in REGIMES else _PAIR_SUPPORT[k] for k in kinds]
    rows = np.arange(len(draws))
    out = winner.copy()
    for w in np.unique(winner):
        fewer = [i for i, s in enumerate(support) if s < support[w]]
        if not fewer:
            continue
        at = winner == w
        best = np.asarray(fewer)[draws[np.ix_(at, fewer)].argmax(1)]
        tie = draws[rows[at], w] - draws[rows[at], best] < margin
        out[np.flatnonzero(at)[tie]] = best[tie]
    return out


_PAIR_SUPPORT = {
    "quantity-dominant": frozenset({"weak"}),
    "mixed": frozenset({"weak", "hq"}),
    "quality-dominant": frozenset({"hq"}),
}


@dataclass(frozen=True)
class Answer:
    """The regime at one budget and the allocation to buy there (along that budget line)."""

    label: str
    task: str
    weak_cost: float
    budget: float
    probabilities: dict[str, float]
    """P(quantity-dominant), P(mixed), P(quality-dominant): where the peak lies (k sources: P of
    each set of sources the peak may buy)."""
    regime: str
    """The decided regime, or "undetermined"."""
    decided: bool
    n_weak: int
    n_hq: int
    expected_accuracy: float
    lo: float
    hi: float
    p_best: float
    """Probability that this allocation is the best on the line (the share of joint draws whose
    maximum it is, no margin: `probabilities` credits ties to the ends, P(best) does not)."""
    counts: tuple[int, ...] = ()
    """The best allocation's count per source (`sources`)."""
    sources: tuple[str, ...] = PAIR

    def to_json(self) -> dict:
        out = {
            "variant": self.label,
            "task": self.task,
            "weak_cost": None if self.weak_cost is None else float(self.weak_cost),
            "budget": float(self.budget),
            "regime": self.regime,
        }
        if self.sources == PAIR:
            out |= {
                "p_quantity": round(self.probabilities["quantity-dominant"], 4),
                "p_mixed": round(self.probabilities["mixed"], 4),
                "p_quality": round(self.probabilities["quality-dominant"], 4),
            }
        else:
            out["probabilities"] = {k: round(v, 4) for k, v in self.probabilities.items()}
        return out | {
            "decided": bool(self.decided),
            "n_weak": int(self.n_weak),
            "n_hq": int(self.n_hq),
            "counts": dict(zip(self.sources, map(int, self.counts), strict=True)),
            "expected_accuracy": round(self.expected_accuracy, 4),
            "lo": round(self.lo, 4),
            "hi": round(self.hi, 4),
        }


def regime(
    surface: Surface,
    budget: float,
    weak_cost: float,
    allocs: np.ndarray | None = None,
    decide: float = DECIDE,
    seed: int = 0,
) -> Answer | None:
    """The regime at `budget` over the line's allocations `allocs` ((n, k) counts per source: n_weak,
    n_hq for the paper's pair; default: the paper's HQ shares of the budget), or None where the
    line has only one kind of allocation."""
    k = surface.k
    allocs = line(budget, weak_cost, PAPER_SHARES) if allocs is None else np.asarray(allocs, float)
    allocs = np.unique(allocs.reshape(-1, k), axis=0)
    if one_kind(allocs, surface.sources):
        return None
    kinds = kinds_of(allocs, surface.sources)
    draws = surface.samples(allocs, DRAWS, np.random.default_rng(seed))
    winner = _peaks(draws, kinds)
    probs = {
        name: float(np.mean([kinds[i] == name for i in winner]))
        for name in regimes_of(surface.sources, kinds)
    }
    mean, lo, hi = surface.interval(allocs)
    best = int(np.argmax(mean))
    top = max(probs, key=probs.get)
    decided = probs[top] >= decide
    return Answer(
        surface.label,
        surface.task,
        weak_cost,
        budget,
        probs,
        top if decided else "undetermined",
        decided,
        int(allocs[best, :-1].sum()),
        int(allocs[best, -1]),
        float(mean[best]),
        float(lo[best]),
        float(hi[best]),
        float(np.mean(draws.argmax(1) == best)),
        tuple(int(c) for c in allocs[best]),
        tuple(surface.sources),
    )


def decidable(
    surface, allocs: np.ndarray, extra: np.ndarray, decide: float, rng, outer: int = 40, inner: int = 400
) -> float:
    """The probability that the line's regime would be decided (one regime's probability at least
    `decide`) once runs at `extra` are stored: a preposterior. The kernel as fitted, those runs
    leave the covariance `Surface.projected_cov`; the posterior mean they would give is drawn
    from N(mean now, covariance now - covariance then); per draw, the regime's probabilities
    from `inner` joint draws, as `analysis.regimes` computes them."""
    kinds = kinds_of(allocs, surface.sources)
    regimes = regimes_of(surface.sources, kinds)
    mean, now = surface.posterior(allocs)
    later = surface.projected_cov(allocs, extra) if len(extra) else now

    def factor(cov: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        return vectors * np.sqrt(np.clip(values, 0, None))

    means = mean + rng.standard_normal((outer, len(mean))) @ factor(now - later).T
    z = rng.standard_normal((inner, len(mean))) @ factor(later).T
    hits = 0
    for m in means:
        winner = np.asarray(kinds)[_peaks(m + z, kinds)]
        hits += max(np.mean(winner == k) for k in regimes) >= decide
    return hits / outer
