"""Settings of the MAML position head (`[meta]` in a Forge config); torch-free so that a config
can be parsed without importing PyTorch."""

from __future__ import annotations

import msgspec

from nexusforge.strategy.head import DEFAULT_SUPPORT


class MetaConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """MAML head settings (`[meta]` in a Forge config); off unless `enabled`."""

    enabled: bool = False
    features: tuple[str, ...] = ("h1_rv", "h1_ret")  # regime inputs beside the signal
    hidden: int = 4
    support: int = DEFAULT_SUPPORT  # rows adapted on
    query: int = 48  # rows traded before adapting again
    steps: int = 3
    inner_lr: float = 0.3  # initial step size; meta-learned per tensor when learn_lr
    learn_lr: bool = True
    first_order: bool = False
    outer_lr: float = 0.02
    meta_batch: int = 16
    iterations: int = 300
    fee_bps: float = 6.0  # per unit of |position change|: Bybit VIP0 taker 5.5 bp + 0.5 bp spread

    def __post_init__(self) -> None:
        if not 0 <= self.hidden <= 64 or len(self.features) > 64:
            raise ValueError("meta hidden must be in 0..64 and features at most 64")
        if not (10 <= self.support <= 100_000 and 1 <= self.query <= 100_000):
            raise ValueError("meta support must be in 10..100000 and query in 1..100000")
        if not (1 <= self.steps <= 50 and 1 <= self.meta_batch <= 1024):
            raise ValueError("meta steps must be in 1..50 and meta_batch in 1..1024")
        if not (0 < self.inner_lr <= 100 and 0 < self.outer_lr <= 1):
            raise ValueError("meta inner_lr must be in (0, 100] and outer_lr in (0, 1]")
        if not (1 <= self.iterations <= 100_000 and 0 <= self.fee_bps <= 1000):
            raise ValueError("meta iterations must be in 1..100000 and fee_bps in [0, 1000]")
