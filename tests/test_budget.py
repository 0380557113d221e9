"""Budget accounting: the paper's rounding, paid validation labels, disjoint pools, the oracle."""

import itertools

import numpy as np
import pytest

from labelbudget.allocation import allocation_of
from labelbudget.labels.budget import (
    Allocation,
    allocate,
    check_stage_sizes,
    partition_pool,
    stage_split,
)
from labelbudget.labels.sources import Fixed, Ledger
from labelbudget.util.errors import UserError


@pytest.mark.parametrize(
    ("budget", "cost", "fraction", "n_weak", "n_hq"),
    [
        (64, 0.1, 0.5, 320, 32),  # int((64 - 32) / 0.1) is 320, not 319 from float error
        (16, 0.1, 0.05, 160, 0),  # int(0.05 * 16) = 0 HQ labels: all $16 on weak
        (1024, 0.01, 0.8, 20500, 819),  # int(819.2) = 819; (1024 - 819) / 0.01 = 20500
        (256, 0.5, 0.6, 206, 153),  # int(153.6) = 153; int(103 / 0.5) = 206
        (4096, 0.1, 1.0, 0, 4096),
        (16, 0.5, 0.0, 32, 0),
        (17, 0.1, 0.2, 140, 3),  # Table-1 budgets 4**i + 1
    ],
)
def test_allocation_follows_paper_rounding(budget, cost, fraction, n_weak, n_hq):
    assert allocate(budget, cost, fraction) == Allocation.pair(n_weak, n_hq)


def test_allocation_never_exceeds_budget_on_the_paper_grid():
    budgets = [16, 64, 256, 1024, 4096, 8192, 5, 17, 65, 257, 1025, 4097]
    fractions = [0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0]
    for budget, cost, f in itertools.product(budgets, [0.5, 0.1, 0.01], fractions):
        alloc = allocate(budget, cost, f)
        assert alloc.cost(cost) <= budget + 1e-9
        # and it is the largest weak count that fits: one more would overspend
        assert alloc.n_weak * cost + alloc.n_hq + cost > budget - 1e-9


def test_stage_too_small_is_refused_with_fix():
    from labelbudget.config import RunConfig

    with pytest.raises(UserError, match="leaves 2 HQ label") as e:
        check_stage_sizes(allocate(4, 0.1, 0.5), RunConfig(budget=4, hq_fraction=0.5))
    assert "--hq-fraction 0" in str(e.value)
    check_stage_sizes(allocate(4, 0.1, 0.0), RunConfig(budget=4, hq_fraction=0.0))  # all weak: 40, fine
    three = RunConfig(
        budget=4, sources=("llm=column:a@0.01", "expert=ground-truth@1"), shares=("llm=0.5", "expert=0.5")
    )
    with pytest.raises(UserError, match="leaves 2 label\\(s\\) of expert") as e:
        check_stage_sizes(allocation_of(three), three)
    assert "give expert a share of 0" in e.value.fix


@pytest.mark.parametrize(("n", "n_val"), [(3, 2), (9, 2), (10, 2), (15, 3), (100, 20), (1001, 200)])
def test_stage_split_pays_validation_from_the_stage_labels(n, n_val):
    train, val = stage_split(n, np.random.default_rng(0))
    assert len(val) == n_val and len(train) == n - n_val
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(n))


def test_partition_is_disjoint_proportional_and_respects_exclusion():
    """The authors' `load_cached_datasets` (`w2s/utils.py`): the pool is apportioned between the
    weak side and the HQ side in proportion to n_weak : n_hq; HQ labels come from the HQ side."""
    exclude = np.arange(0, 1000, 3)
    available = 1000 - len(exclude)
    weak, hq = partition_pool(1000, Allocation.pair(400, 40), np.random.default_rng(1), exclude=exclude)
    assert len(hq) == round(available * 40 / 440) == 61 and len(weak) == available - 61
    assert not set(weak) & set(hq)
    assert not (set(weak) | set(hq)) & set(exclude)
    # each side can always supply its stage, and all-weak / all-HQ take the whole pool
    weak, hq = partition_pool(100, Allocation.pair(95, 1), np.random.default_rng(0))
    assert len(weak) >= 95 and len(hq) >= 1 and len(weak) + len(hq) == 100
    assert len(partition_pool(100, Allocation.pair(50, 0), np.random.default_rng(0))[1]) == 0
    assert len(partition_pool(100, Allocation.pair(0, 50), np.random.default_rng(0))[0]) == 0
    # the first weak ids depend only on the seed, not on n_hq (so weak stages can be shared)
    a, _ = partition_pool(1000, Allocation.pair(100, 10), np.random.default_rng(3))
    b, _ = partition_pool(1000, Allocation.pair(100, 300), np.random.default_rng(3))
    assert a[:100].tolist() == b[:100].tolist()


def test_the_pool_is_partitioned_into_a_side_per_source():
    """Three sources: three disjoint sides in proportion to their counts, each able to supply it,
    the cheapest's first ids depending only on the seed."""
    alloc = Allocation((("llm", 600), ("crowd", 60), ("expert", 30)))
    llm, crowd, expert = partition_pool(1380, alloc, np.random.default_rng(2))
    assert (len(llm), len(crowd), len(expert)) == (1200, 120, 60)
    assert not (set(llm) & set(crowd) or set(llm) & set(expert) or set(crowd) & set(expert))
    fewer = Allocation((("llm", 600), ("crowd", 0), ("expert", 300)))
    assert partition_pool(1380, fewer, np.random.default_rng(2))[0][:600].tolist() != []
    tight = Allocation((("llm", 95), ("crowd", 3), ("expert", 2)))
    sides = partition_pool(100, tight, np.random.default_rng(0))
    assert [len(x) for x in sides] == [95, 3, 2]


def test_a_budget_split_over_three_sources_follows_the_papers_rounding():
    """Every source but the cheapest buys int(share x B / price), the dearest first; the cheapest
    what is left. Two sources at the paper's prices: the paper's allocation."""
    from labelbudget.allocation import SourceConfig, split

    sources = [
        SourceConfig("expert", "ground-truth", 1.0),
        SourceConfig("llm", "column:a", 0.01),
        SourceConfig("crowd", "column:b", 0.1),
    ]
    alloc = split(64, sources, {"llm": 0.3, "crowd": 0.3, "expert": 0.4})
    # expert int(0.4 x 64) = 25 ($25), crowd int(0.3 x 64 / 0.1) = 192 ($19.2), the llm the rest:
    # int((64 - 25 - 19.2) / 0.01) = 1980 ($19.8, the paper's weak labels take the rounding too)
    assert alloc.counts == (("llm", 1980), ("crowd", 192), ("expert", 25))
    assert alloc.cost({"llm": 0.01, "crowd": 0.1, "expert": 1.0}) <= 64
    pair = split(
        64,
        [SourceConfig("weak", "trained", 0.1), SourceConfig("hq", "ground-truth", 1)],
        {"weak": 0.5, "hq": 0.5},
    )
    assert pair == allocate(64, 0.1, 0.5) == Allocation.pair(320, 32)


def test_oracle_counts_and_refuses_repeats_and_overspending():
    labels = np.array([0, 1, 1, 0, 1, 0])
    oracle = Fixed("hq", 1.0, 4, labels)
    assert oracle.label(np.array([1, 3])).tolist() == [1, 0]
    assert oracle.sold == 2
    with pytest.raises(RuntimeError, match="asked again"):
        oracle.label(np.array([3]))
    with pytest.raises(RuntimeError, match="asked again"):
        oracle.label(np.array([4, 4]))
    with pytest.raises(RuntimeError, match="limit"):
        oracle.label(np.array([0, 2, 4]))
    assert oracle.sold == 2  # refused requests are not charged
    assert oracle.label(np.array([0, 2])).tolist() == [0, 1]
    assert oracle.sold == 4


def test_sources_sell_by_count_and_by_id_and_the_ledger_sums_their_prices():
    """Buying by count takes the offered ids in order, skipping any sold by id; the spend is what
    the sources metered at their prices, for any number of sources."""
    weak = Fixed("weak", 0.1, 5, np.linspace(0, 1, 10), offer=np.array([9, 8, 7, 6, 5, 4]))
    hq = Fixed("hq", 1.0, 2, np.arange(10) % 2)
    crowd = Fixed("crowd", 0.3, 3, np.ones(10))
    assert weak.label(np.array([8])).tolist() == [pytest.approx(8 / 9)]
    ids, probs = weak.buy(3)
    assert ids.tolist() == [9, 7, 6] and probs.tolist() == pytest.approx([1, 7 / 9, 6 / 9])
    hq.label(np.array([0, 1]))
    crowd.buy(0)
    crowd.label(np.array([2, 3]))
    ledger = Ledger({"weak": weak, "hq": hq, "crowd": crowd})
    assert ledger.counts == {"weak": 4, "hq": 2, "crowd": 2}
    assert ledger.spent == pytest.approx(4 * 0.1 + 2 + 2 * 0.3)
    with pytest.raises(RuntimeError, match="on offer"):
        weak.buy(3)  # 2 offered ids left
    alloc = Allocation((("weak", 4), ("crowd", 2), ("hq", 2)))
    assert alloc.cost({"weak": 0.1, "hq": 1.0, "crowd": 0.3}) == pytest.approx(ledger.spent)
