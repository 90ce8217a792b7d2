"""Strongly typed GP over the causal primitive set (DEAP trees, our own seeded operators).

(mu + lambda) evolution: each generation breeds `population` offspring by typed one-point
crossover and subtree/point mutation, optionally screens them with the surrogate so only the
promising share is fully evaluated, and selects the next population from parents and evaluated
offspring (duplicates removed first): the `elitism` best always survive, the rest by
tournament on the parsimony-penalised score (score - parsimony * size), or by NSGA-II on
(score, -drawdown, -size). Depth and size limits reject oversized children (the parent is
kept, as in Koza's static limit). Every random draw comes from one `random.Random(seed)`, so
the same seed gives the same hall of fame.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
from deap import base, gp, tools  # type: ignore[import-untyped]

from nexusforge.forge.evolve.primitives import (
    DEFAULT_CONSTANTS,
    DEFAULT_LAGS,
    DEFAULT_OPERATORS,
    DEFAULT_WINDOWS,
    PARAM_TYPES,
    generate,
    to_expr,
)
from nexusforge.forge.evolve.surrogate import Surrogate, Vectorizer, screen, spearman
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Expr, columns, depth, size


class GpConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Population, variation, bloat control, selection and vocabulary settings.

    `max_depth` and `max_size` bound the strategy expression (levels and nodes, as the codec
    counts them); `parsimony` is subtracted from the score per expression node.
    """

    population: int = 200
    generations: int = 10
    min_depth: int = 2
    init_max_depth: int = 4
    max_depth: int = 7
    max_size: int = 40
    parsimony: float = 0.005
    tournament: int = 4
    cx_prob: float = 0.6
    mut_prob: float = 0.35
    elitism: int = 4
    hof_size: int = 10
    nsga2: bool = False
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    windows: tuple[int, ...] = DEFAULT_WINDOWS
    lags: tuple[int, ...] = DEFAULT_LAGS
    constants: tuple[float, ...] = DEFAULT_CONSTANTS

    def __post_init__(self) -> None:
        if not 4 <= self.population <= 100_000:
            raise ValueError("population must be in 4..100000")
        if not 0 <= self.generations <= 10_000:
            raise ValueError("generations must be in 0..10000")
        if not 1 <= self.min_depth <= self.init_max_depth <= self.max_depth <= 30:
            raise ValueError("need 1 <= min_depth <= init_max_depth <= max_depth <= 30")
        if not 3 <= self.max_size <= 1000:
            raise ValueError("max_size must be in 3..1000")
        if not (0.0 <= self.cx_prob <= 1.0 and 0.0 <= self.mut_prob <= 1.0):
            raise ValueError("cx_prob and mut_prob must be in [0, 1]")
        if not 0 <= self.elitism < self.population or not 1 <= self.hof_size <= 1000:
            raise ValueError("elitism must be in 0..population-1 and hof_size in 1..1000")
        if not 2 <= self.tournament <= self.population or self.parsimony < 0.0:
            raise ValueError("tournament must be in 2..population and parsimony >= 0")


class SurrogateConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Screening: share kept by prediction, random exploration share, when to start; the
    phenotypic neighbours the surrogate looks at (0: none)."""

    enabled: bool = True
    keep: float = 0.3
    explore: float = 0.1
    min_train: int = 60
    ref_rows: int = 3000
    neighbours: int = 5
    explore_far: bool = False

    def __post_init__(self) -> None:
        if not (0.0 < self.keep <= 1.0 and 0.0 <= self.explore <= 1.0 - self.keep):
            raise ValueError("need 0 < keep <= 1 and 0 <= explore <= 1 - keep")
        if not 10 <= self.min_train <= 1_000_000 or not 100 <= self.ref_rows <= 1_000_000:
            raise ValueError("min_train must be >= 10 and ref_rows >= 100")
        if not 0 <= self.neighbours <= 100:
            raise ValueError("neighbours must be in 0..100")


class _Single(base.Fitness):  # type: ignore[misc]
    weights = (1.0,)


class _Multi(base.Fitness):  # type: ignore[misc]
    weights = (1.0, -1.0, -1.0)


class Individual(gp.PrimitiveTree):  # type: ignore[misc]
    """A DEAP tree with its fitness, its strategy expression and its codec JSON key."""

    def __init__(self, nodes: Sequence[Any], multi: bool = False) -> None:
        super().__init__(list(nodes))
        self.fitness = _Multi() if multi else _Single()
        self.expr: Expr = to_expr(self)
        self.key: str = codec.dumps(self.expr)
        self.score = math.nan
        self.id = -1


@dataclass(frozen=True)
class Evaluated:
    """What the fitness function returns for a batch: scores, drawdowns, raw window metrics."""

    score: npt.NDArray[np.float64]
    drawdown: npt.NDArray[np.float64]
    metrics: npt.NDArray[np.float64]


EvaluateFn = Callable[[list[str]], Evaluated]


@dataclass
class Record:
    """One fully evaluated individual, as written to the run folder."""

    id: int
    generation: int
    expr_json: str
    size: int
    score: float
    drawdown: float
    predicted: float
    metrics: npt.NDArray[np.float64] = field(repr=False)


@dataclass
class GenerationStats:
    """Per-generation progress: fitness, diversity, evaluations and surrogate quality."""

    generation: int  # 0 is the initial population
    best: float
    mean: float
    median: float
    mean_size: float
    unique_share: float
    score_std: float
    offspring: int  # bred this generation
    evaluated: int  # fully evaluated (new to the run)
    cached: int  # already evaluated earlier: score reused, not a new trial
    skipped: int  # new, but screened out by the surrogate
    surrogate_spearman: float  # predicted vs true score of this generation's evaluated


@dataclass
class Result:
    """Hall of fame (best first), every record, per-generation stats."""

    hall_of_fame: list[Individual]
    records: list[Record]
    stats: list[GenerationStats]

    @property
    def evaluations(self) -> int:
        """Full evaluations spent."""
        return len(self.records)


class Evolution:
    """One seeded GP run over a primitive set with a batch fitness function."""

    def __init__(
        self, pset: gp.PrimitiveSetTyped, cfg: GpConfig, evaluate: EvaluateFn, seed: int,
        surrogate: SurrogateConfig | None = None, vectorizer: Vectorizer | None = None,
        on_generation: Callable[[GenerationStats], None] | None = None,
    ) -> None:  # fmt: skip
        self.pset, self.cfg, self.evaluate_fn = pset, cfg, evaluate
        self.rng = random.Random(seed)  # noqa: S311 - seeded research draws, not secrets
        self.sur_cfg = surrogate if surrogate and surrogate.enabled and vectorizer else None
        self.vectorizer = vectorizer
        self.surrogate = (
            Surrogate(seed, surrogate.min_train, neighbours=max(1, surrogate.neighbours))
            if self.sur_cfg and surrogate
            else None
        )
        self.on_generation = on_generation
        self.cache: dict[str, tuple[float, float, int]] = {}
        self.records: list[Record] = []
        self.stats: list[GenerationStats] = []
        self.hof: Any = (
            tools.ParetoFront(similar=_same) if cfg.nsga2 else tools.HallOfFame(cfg.hof_size, _same)
        )

    # ---- building individuals ----

    def _make(self, nodes: Sequence[Any]) -> Individual:
        return Individual(nodes, self.cfg.nsga2)

    def _fits(self, ind: Individual) -> bool:
        # A tree that reads no causal parent is a constant position, not a strategy.
        small = depth(ind.expr) <= self.cfg.max_depth and size(ind.expr) <= self.cfg.max_size
        return bool(small and columns(ind.expr))

    def init_population(self) -> list[Individual]:
        """Ramped half-and-half, without duplicates where the vocabulary allows."""
        pop: list[Individual] = []
        seen: set[str] = set()
        attempts = 0
        while len(pop) < self.cfg.population and attempts < 50 * self.cfg.population:
            attempts += 1
            nodes = generate(self.pset, self.rng, self.cfg.min_depth, self.cfg.init_max_depth,
                             full=attempts % 2 == 0)  # fmt: skip
            ind = self._make(nodes)
            if self._fits(ind) and (ind.key not in seen or attempts > 20 * self.cfg.population):
                seen.add(ind.key)
                pop.append(ind)
        return pop

    # ---- variation (typed, seeded) ----

    def _crossover(self, a: Individual, b: Individual) -> tuple[list[Any], list[Any]]:
        x, y = list(a), list(b)
        if len(x) < 2 or len(y) < 2:
            return x, y
        types_y: dict[type, list[int]] = {}
        for i, node in enumerate(y[1:], 1):
            types_y.setdefault(node.ret, []).append(i)
        options = [i for i in range(1, len(x)) if x[i].ret in types_y]
        if not options:
            return x, y
        i = self.rng.choice(options)
        j = self.rng.choice(types_y[x[i].ret])
        si, sj = a.searchSubtree(i), b.searchSubtree(j)
        x[si], y[sj] = list(b)[sj], list(a)[si]
        return x, y

    def _mutate(self, a: Individual) -> list[Any]:
        x = list(a)
        i = self.rng.randrange(len(x))
        node = x[i]
        if node.ret in PARAM_TYPES or self.rng.random() < 0.5:  # point mutation
            if node.arity == 0:
                x[i] = self.rng.choice(self.pset.terminals[node.ret])
            else:
                same = [p for p in self.pset.primitives[node.ret] if p.args == node.args]
                x[i] = self.rng.choice(same)
            return x
        sub = a.searchSubtree(i)
        x[sub] = generate(self.pset, self.rng, 1, max(1, self.cfg.init_max_depth - 1), node.ret)
        return x

    def _select(self, pop: Sequence[Individual], k: int) -> list[Individual]:
        return [
            max(self.rng.sample(list(pop), self.cfg.tournament), key=self._penalised)
            for _ in range(k)
        ]

    def _penalised(self, ind: Individual) -> float:
        return float(ind.fitness.values[0]) if ind.fitness.valid else -math.inf

    def breed(self, pop: Sequence[Individual], n: int) -> list[Individual]:
        """`n` offspring by crossover, mutation or reproduction; oversized children revert."""
        out: list[Individual] = []
        while len(out) < n:
            p1 = self._select(pop, 1)[0]
            r = self.rng.random()
            if r < self.cfg.cx_prob:
                p2 = self._select(pop, 1)[0]
                kids = [(k, p) for k, p in zip(self._crossover(p1, p2), (p1, p2), strict=True)]
            elif r < self.cfg.cx_prob + self.cfg.mut_prob:
                kids = [(self._mutate(p1), p1)]
            else:
                kids = [(list(p1), p1)]
            for nodes, parent in kids:
                child = self._make(nodes)
                out.append(child if self._fits(child) else parent_copy(parent))
        return out[:n]

    # ---- evaluation ----

    def _assign(self, ind: Individual, score: float, dd: float) -> None:
        ind.score = score
        penalised = score - self.cfg.parsimony * size(ind.expr)
        ind.fitness.values = (penalised, dd, float(len(ind))) if self.cfg.nsga2 else (penalised,)

    def _evaluate(
        self, inds: Sequence[Individual], generation: int, predicted: Sequence[float]
    ) -> tuple[int, int]:
        """Fully evaluate what the cache lacks; returns (evaluated, cached)."""
        fresh: dict[str, int] = {}
        for idx, ind in enumerate(inds):
            if ind.key not in self.cache and ind.key not in fresh:
                fresh[ind.key] = idx
        if fresh:
            res = self.evaluate_fn(list(fresh))
            for row, (key, idx) in enumerate(fresh.items()):
                rid = len(self.records)
                s, d = float(res.score[row]), float(res.drawdown[row])
                self.cache[key] = (s, d, rid)
                self.records.append(Record(rid, generation, key, size(inds[idx].expr), s, d,
                                           float(predicted[idx]), res.metrics[row]))  # fmt: skip
            if self.surrogate is not None:
                x, sig = self._features([inds[i] for i in fresh.values()])
                self.surrogate.add(x, [float(v) for v in res.score], sig)
                self.surrogate.fit()
        for ind in inds:
            s, d, rid = self.cache[ind.key]
            ind.id = rid
            self._assign(ind, s, d)
        return len(fresh), len(inds) - len(fresh)

    def _screened(self, kids: list[Individual]) -> tuple[list[Individual], list[float], int]:
        """Offspring chosen for full evaluation, their predictions and how many were skipped."""
        new = [k for k in kids if k.key not in self.cache]
        known = [k for k in kids if k.key in self.cache]
        if not (self.sur_cfg and self.surrogate and self.surrogate.ready and self.vectorizer):
            return kids, [math.nan] * len(kids), 0
        if not new:
            return known, [math.nan] * len(known), 0
        x, sig = self._features(new)
        pred, bound = self.surrogate.optimistic(x, sig)  # rank by the bound, record the mean
        far = self.surrogate.distance(sig) if self.sur_cfg.explore_far and sig is not None else None
        keep = screen(bound, self.sur_cfg.keep, self.sur_cfg.explore, self.rng, far)
        chosen = [new[i] for i in keep]
        preds = [float(pred[i]) for i in keep] + [math.nan] * len(known)
        return chosen + known, preds, len(new) - len(keep)

    def _features(self, inds: Sequence[Individual]) -> tuple[npt.NDArray[np.float64], Any]:
        """The surrogate's feature rows and, with neighbours on, the signatures."""
        assert self.vectorizer is not None and self.sur_cfg is not None
        x, sig = self.vectorizer.transform_signed([i.expr for i in inds])
        return x, sig if self.sur_cfg.neighbours > 0 else None

    # ---- the loop ----

    def run(self) -> Result:
        """Evolve for `generations`; returns the hall of fame, records and stats."""
        pop = self.init_population()
        ev, cached = self._evaluate(pop, 0, [math.nan] * len(pop))
        self._finish_generation(0, pop, len(pop), ev, cached, 0, [])
        for gen in range(1, self.cfg.generations + 1):
            kids = self.breed(pop, self.cfg.population)
            chosen, preds, skipped = self._screened(kids)
            first = len(self.records)
            ev, cached = self._evaluate(chosen, gen, preds)
            pop = self._next_population(pop, chosen)
            self._finish_generation(gen, pop, len(kids), ev, cached, skipped,
                                    self.records[first:])  # fmt: skip
        return Result(list(self.hof), self.records, self.stats)

    def _next_population(self, parents: list[Individual], kids: list[Individual]) -> list[Any]:
        # Duplicates leave the pool first (diversity); they only come back if too few remain.
        first: dict[str, Individual] = {}
        for ind in parents + kids:
            first.setdefault(ind.key, ind)
        unique = list(first.values())
        pool = unique if len(unique) >= max(self.cfg.tournament, self.cfg.elitism) else parents
        mu = self.cfg.population
        if self.cfg.nsga2:
            return list(tools.selNSGA2(pool if len(pool) >= mu else parents + kids, mu))
        ranked = sorted(pool, key=lambda i: (-self._penalised(i), i.id))
        elite = ranked[: self.cfg.elitism]
        return elite + self._select(pool, mu - len(elite))

    def _finish_generation(
        self, gen: int, pop: list[Individual], offspring: int, evaluated: int, cached: int,
        skipped: int, fresh: Sequence[Record],
    ) -> None:  # fmt: skip
        self.hof.update(pop)
        scores = np.array([i.score for i in pop])
        pairs = [(r.predicted, r.score) for r in fresh if math.isfinite(r.predicted)]
        rho = spearman(*zip(*pairs, strict=True)) if len(pairs) >= 5 else math.nan
        stats = GenerationStats(
            gen, float(np.max(scores)), float(np.mean(scores)), float(np.median(scores)),
            float(np.mean([len(i) for i in pop])), len({i.key for i in pop}) / len(pop),
            float(np.std(scores)), offspring, evaluated, cached, skipped, rho,
        )  # fmt: skip
        self.stats.append(stats)
        if self.on_generation is not None:
            self.on_generation(stats)


def parent_copy(parent: Individual) -> Individual:
    """A fresh copy of a parent (Koza's static limit keeps the parent when a child is too big)."""
    return Individual(list(parent), isinstance(parent.fitness, _Multi))


def _same(a: Individual, b: Individual) -> bool:
    return bool(a.key == b.key)
