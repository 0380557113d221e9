"""Label sources as values, a budget split across them, and what a run buys: one cost function.

A run buys labels from a list of sources (`SourceConfig`: a name, what sells the labels, and a
price per label). The paper's pair is the default list: `weak` (the `--weak-labels` source at
`--weak-cost`) and `hq` (the `--oracle` at $1). A budget is split by shares per source, a point
on the simplex (the paper: the HQ fraction f and 1 - f). The counts follow the paper's rule
(PROTOCOL, "Budget accounting": n_hq = int(f B), n_weak = int((B - n_hq) / c)) generalised: every
source but the cheapest buys int(share x B / price) labels, the most expensive first, and the
cheapest buys what the rest leaves, int(left / price), so less than one of its labels' price is
left unspent. An `Allocation` is a count per source in stage order (by price, the cheapest
first); its cost at any prices is `Allocation.cost`, the one cost function: the same allocation
bought at other prices is the same run, re-costed (as the authors' `notebooks/figures.ipynb`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from labelbudget.util.errors import UserError

EPS = 1e-9
"""Float slack: int((64 - 32) / 0.1) must be 320, not 319 from 319.99999999999997."""

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class SourceConfig:
    """One label source of a run."""

    name: str
    """What the run calls it (`weak`, `hq`; or yours: `llm`, `crowd`, `expert`)."""
    spec: str
    """What sells its labels: a registered source (`labelbudget list`) with its argument, e.g.
    `trained`, `column:llm`, `file:preds.csv`, `prompt:smollm2-135m`, `ground-truth`, `person`."""
    price: float
    """$ per label."""

    @property
    def kind(self) -> str:
        """The registered source's name: `column:` for `column:llm`, the spec itself otherwise."""
        return self.spec.split(":", 1)[0] + ":" if ":" in self.spec else self.spec

    @property
    def argument(self) -> str:
        return self.spec.split(":", 1)[1] if ":" in self.spec else ""

    def __str__(self) -> str:
        return f"{self.name}={self.spec}@{self.price:g}"

    @classmethod
    def parse(cls, text: str) -> SourceConfig:
        """`NAME=SPEC@PRICE`, as `--source` takes it (`expert=ground-truth@1`)."""
        name, eq, rest = str(text).partition("=")
        spec, at, price = rest.rpartition("@")
        example = "--source llm=column:llm_label@0.01"
        if not eq or not at or not NAME.match(name.strip()) or not spec.strip():
            raise UserError(
                f"--source {text!r} is not NAME=SOURCE@PRICE", f"write e.g. {example} (`labelbudget list`)"
            )
        try:
            value = float(price)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise UserError(f"--source {text!r}: the price {price!r} is not a positive number of $", example)
        return cls(name.strip(), spec.strip(), value)


def parse_shares(texts: Sequence[str]) -> dict[str, float]:
    """`NAME=SHARE` per source, as `--shares` takes them."""
    out: dict[str, float] = {}
    for text in texts:
        name, eq, value = str(text).partition("=")
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not eq or not NAME.match(name.strip()) or not (math.isfinite(share) and 0 <= share <= 1):
            raise UserError(
                f"--shares {text!r} is not NAME=SHARE with a share in [0, 1]",
                "write e.g. --shares llm=0.3 crowd=0.3 expert=0.4 (they sum to 1)",
            )
        if name.strip() in out:
            raise UserError(f"--shares names {name.strip()!r} twice", "give each source one share")
        out[name.strip()] = share
    return out


def check_sources(sources: Sequence[SourceConfig], shares: Mapping[str, float]) -> None:
    """Every source named once, a share for each of them and nothing else, summing to 1."""
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"--source names {twice[0]!r} twice", "give each source its own name")
    if set(shares) != set(names):
        raise UserError(
            f"--shares names {sorted(shares)} but the sources are {names}",
            "give one share per --source, e.g. " + " ".join(f"{n}={1 / len(names):.2g}" for n in names),
        )
    if abs(sum(shares.values()) - 1) > 1e-6:
        raise UserError(
            f"--shares sum to {sum(shares.values()):g}, not 1: they split the whole budget",
            "make the shares sum to 1",
        )


def stage_order(sources: Sequence[SourceConfig]) -> tuple[SourceConfig, ...]:
    """The sources as their stages run: by price, the cheapest first (ties in the given order)."""
    return tuple(sorted(sources, key=lambda s: s.price))


@dataclass(frozen=True)
class Allocation:
    """How many labels a run buys from each label source, in stage order (the cheapest first)."""

    counts: tuple[tuple[str, int], ...]

    @classmethod
    def pair(cls, n_weak: int, n_hq: int) -> Allocation:
        """The paper's two-source allocation."""
        return cls((("weak", int(n_weak)), ("hq", int(n_hq))))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.counts)

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(c for _, c in self.counts)

    def __getitem__(self, name: str) -> int:
        return dict(self.counts)[name]

    @property
    def n_weak(self) -> int:
        """Labels from every source but the most expensive (the paper's weak labels)."""
        return sum(self.values[:-1])

    @property
    def n_hq(self) -> int:
        """Labels from the most expensive source (the paper's HQ labels)."""
        return self.values[-1]

    @property
    def total(self) -> int:
        return sum(self.values)

    def cost(self, prices: float | Mapping[str, float]) -> float:
        """What the allocation costs at these prices per label (a float: the paper's weak price,
        with HQ labels at $1)."""
        if not isinstance(prices, Mapping):
            prices = {"weak": prices, "hq": 1.0}
        return sum(n * prices[name] for name, n in self.counts if n)


def split(budget: float, sources: Sequence[SourceConfig], shares: Mapping[str, float]) -> Allocation:
    """A budget split across `sources` (in stage order) by `shares`: every source but the cheapest
    buys int(share x budget / price) labels (the most expensive first), the cheapest what is left."""
    ordered = stage_order(sources)
    counts: dict[str, int] = {}
    left = budget
    for source in reversed(ordered[1:]):
        n = math.floor(shares[source.name] * budget / source.price + EPS)
        counts[source.name] = n
        left -= n * source.price
    cheapest = ordered[0]
    counts[cheapest.name] = math.floor(max(left, 0) / cheapest.price + EPS)
    alloc = Allocation(tuple((s.name, counts[s.name]) for s in ordered))
    assert alloc.cost({s.name: s.price for s in ordered}) <= budget + EPS * max(1.0, budget)
    return alloc


def allocate(budget: float, weak_cost: float, hq_fraction: float) -> Allocation:
    """The paper's split of a budget: n_hq = int(f * B), n_weak = int((B - n_hq) / c)."""
    pair = (SourceConfig("weak", "weak", weak_cost), SourceConfig("hq", "hq", 1.0))
    return split(budget, pair, {"weak": 1 - hq_fraction, "hq": hq_fraction})


PAIR_FIELDS = ("weak_labels", "weak_cost", "oracle", "hq_fraction")
"""The paper's pair's flags: with `--source` they would be dropped, so they are refused."""


def sources_of(config) -> tuple[SourceConfig, ...]:
    """A run config's label sources in stage order: its `--source`s, else the paper's pair."""
    if config.sources:
        return stage_order([SourceConfig.parse(s) for s in config.sources])
    return (
        SourceConfig("weak", config.weak_labels, config.weak_cost),
        SourceConfig("hq", config.oracle, 1.0),
    )


def shares_of(config) -> dict[str, float]:
    """A run config's split of its budget: its `--shares`, else the HQ fraction and the rest."""
    if config.sources:
        return parse_shares(config.shares)
    return {"weak": 1 - config.hq_fraction, "hq": config.hq_fraction}


def prices_of(config) -> dict[str, float]:
    return {s.name: s.price for s in sources_of(config)}


def allocation_of(config) -> Allocation:
    """What a run config buys."""
    if config.sources and not config.shares:
        names = " ".join(f"{s.name}=SHARE" for s in sources_of(config))
        raise UserError(
            "--source lists the run's sources but --shares does not split the budget", f"add --shares {names}"
        )
    return split(config.budget, sources_of(config), shares_of(config))


def check_config(config) -> None:
    """`--source` and `--shares` come together and say everything; the pair's flags are not
    given beside them (they would be dropped); the budget buys a sane number of labels."""
    if not config.sources:
        if config.shares:
            raise UserError("--shares splits a budget across --source", "add a --source for each share")
        return
    if config.shares:  # a sweep's template leaves them to the grid (`--simplex`)
        check_sources(sources_of(config), shares_of(config))
    else:
        check_sources(sources_of(config), {s.name: 1 / len(config.sources) for s in sources_of(config)})
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    given = [f for f in PAIR_FIELDS if getattr(config, f) != defaults[f]]
    if given:
        flags = " ".join("--" + f.replace("_", "-") for f in given)
        raise UserError(
            f"{flags} set the paper's two sources, but --source lists the run's sources",
            f"omit {flags}: give each source's kind and price in --source, its share in --shares",
        )
    cheapest = min(s.price for s in sources_of(config))
    if config.budget / cheapest >= 1e12:
        raise UserError(f"${config.budget:g} buys {config.budget / cheapest:.3g} labels", "lower --budget")


def bought_by(config, counts) -> object | None:
    """The config (of the same sources and prices) whose budget and shares buy exactly `counts`
    (in stage order), or None for nothing bought: the `run` that an allocation is."""
    sources = sources_of(config)
    cost = round(sum(n * s.price for n, s in zip(counts, sources, strict=True)), 9)
    if cost <= 0:
        return None
    if not config.sources:
        return dataclasses.replace(config, budget=cost, hq_fraction=counts[-1] / cost)
    for digits in (12, 17):  # short where that buys exactly `counts`, else every digit
        shares = tuple(
            f"{s.name}={n * s.price / cost:.{digits}g}" for n, s in zip(counts, sources, strict=True)
        )
        if split(cost, sources, parse_shares(shares)).values == tuple(counts):
            break
    return dataclasses.replace(config, budget=cost, shares=shares)


def flags(config, counts) -> str:
    """The `labelbudget run` flags that buy exactly `counts` (in stage order) at the config's prices."""
    bought = bought_by(config, counts)
    if bought is None:
        return ""
    if not config.sources:
        cost = f"--weak-cost {config.weak_cost:.12g}"
        return f"--budget {bought.budget:.12g} {cost} --hq-fraction {bought.hq_fraction!r}"
    return (
        f"--budget {bought.budget:.12g} "
        + " ".join(f"--source {s}" for s in config.sources)
        + " --shares "
        + " ".join(bought.shares)
    )
