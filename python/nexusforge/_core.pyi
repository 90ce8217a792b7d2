# Type stubs for the compiled Rust core (rust/src/lib.rs). Keep in step with the bindings.

from typing import Any, final

import numpy as np
import numpy.typing as npt

class CoreInputError(ValueError): ...
class CoreMalformedError(ValueError): ...

def core_version() -> str: ...

# ---- book (rust/src/book) ----
_RowArrays = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
    npt.NDArray[np.uint8],
]

@final
class OrderBook:
    def __new__(cls, tick_size: float) -> OrderBook: ...
    def apply_rows(self, cols: _RowArrays) -> None: ...
    def apply_json(
        self, messages: list[bytes], fmt: str, local_ts: npt.NDArray[np.int64] | None = None
    ) -> int: ...
    def apply_json_lines(
        self, data: bytes, fmt: str, local_ts: npt.NDArray[np.int64] | None = None
    ) -> int: ...
    def best_bid(self) -> tuple[float, float] | None: ...
    def best_ask(self) -> tuple[float, float] | None: ...
    def mid(self) -> float | None: ...
    def microprice(self) -> float | None: ...
    def spread(self) -> float | None: ...
    def depth(self, n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    def cost_to_buy(self, qty: float) -> tuple[float, float, float]: ...
    def cost_to_sell(self, qty: float) -> tuple[float, float, float]: ...
    @property
    def is_valid(self) -> bool: ...
    @property
    def last_update_id(self) -> int: ...
    @property
    def tick_size(self) -> float: ...
    def stats(self) -> dict[str, int]: ...

def replay_top_levels(
    cols: _RowArrays, tick_size: float, depth: int
) -> dict[str, npt.NDArray[np.generic]]: ...
def parse_book_messages(
    messages: list[bytes], fmt: str, local_ts: npt.NDArray[np.int64] | None = None
) -> dict[str, object]: ...
def parse_book_lines(
    data: bytes, fmt: str, local_ts: npt.NDArray[np.int64] | None = None
) -> dict[str, object]: ...

# ---- vmd (rust/src/vmd) ----
def vmd_decompose(
    signal: npt.NDArray[np.float64],
    k: int,
    alpha: float,
    tau: float,
    dc: bool,
    init: int,
    tol: float,
    max_iter: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]: ...
def vmd_trailing(
    series: npt.NDArray[np.float64],
    window: int,
    stride: int,
    k: int,
    alpha: float,
    tol: float,
    max_iter: int,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

@final
class VmdStreamCore:
    def __new__(
        cls, window: int, stride: int, k: int, alpha: float, tol: float, max_iter: int
    ) -> VmdStreamCore: ...
    def update(self, x: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    @property
    def seen(self) -> int: ...

# ---- window (rust/src/window.rs) ----
def trailing_max_min(
    ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], window_ns: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

# ---- costs (rust/src/costs.rs) ----
_DepthArrays = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]

@final
class CostModelCore:
    def __new__(
        cls,
        maker_fee: float,
        taker_fee: float,
        impact_eta: float,
        impact_gamma: float,
        latency_bars: int,
        latency_ms: float,
    ) -> CostModelCore: ...
    def price_fill(
        self,
        side: int,
        qty: float,
        mid: float,
        best_bid: float,
        best_ask: float,
        depth: _DepthArrays | None,
        sigma: float,
        volume: float,
        maker: bool,
    ) -> tuple[float, float, float, float, float, float, float, float]: ...

# ---- backtest (rust/src/backtest) ----
@final
class BacktestConfigCore:
    def __new__(
        cls,
        tick_size: float,
        qty_step: float,
        min_qty: float,
        initial_capital: float,
        max_contracts: float,
        max_notional: float,
        latency: int,
        costs: CostModelCore,
        half_spread_bps: float,
    ) -> BacktestConfigCore: ...

_DepthGrids = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]

def backtest_metric_names() -> list[str]: ...

# (bid, ask, funding, sigma, volume, depth): the optional per-bar data, `MarketData.core_args()`.
_Opt = npt.NDArray[np.float64] | None
_MarketArgs = tuple[_Opt, _Opt, _Opt, _Opt, _Opt, _DepthGrids | None]

def backtest_run(
    target: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    market: _MarketArgs,
    config: BacktestConfigCore,
    bars_per_year: float,
) -> tuple[dict[str, npt.NDArray[np.float64]], npt.NDArray[np.float64]]: ...
def backtest_batch(
    targets: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    market: _MarketArgs,
    config: BacktestConfigCore,
    bars_per_year: float,
    threads: int,
) -> npt.NDArray[np.float64]: ...

# ---- expr (rust/src/expr) ----
@final
class ExprProgram:
    def __new__(
        cls,
        ops: npt.NDArray[np.int64],
        ints: npt.NDArray[np.int64],
        a: npt.NDArray[np.float64],
        b: npt.NDArray[np.float64],
        n_columns: int,
    ) -> ExprProgram: ...
    def evaluate(
        self, columns: list[npt.NDArray[np.float64]], rows: int, block_rows: int
    ) -> npt.NDArray[np.float64]: ...
    @property
    def size(self) -> int: ...

@final
class ExprStreamCore:
    def __new__(cls, program: ExprProgram) -> ExprStreamCore: ...
    def update(self, row: npt.NDArray[np.float64]) -> float: ...

# ---- batch (rust/src/backtest/exprs.rs) ----
def expr_backtest_batch(
    programs: list[ExprProgram],
    columns: list[npt.NDArray[np.float64]],
    close: npt.NDArray[np.float64],
    market: _MarketArgs,
    config: BacktestConfigCore,
    bars_per_year: float,
    threads: int,
) -> npt.NDArray[np.float64]: ...
def expr_backtest_windows(
    programs: list[ExprProgram],
    columns: list[npt.NDArray[np.float64]],
    close: npt.NDArray[np.float64],
    market: _MarketArgs,
    windows: list[tuple[int, int]],
    config: BacktestConfigCore,
    bars_per_year: float,
    threads: int,
) -> npt.NDArray[np.float64]: ...
def expr_forest_size(programs: list[ExprProgram]) -> tuple[int, int]: ...

# ---- sim matching engine (rust/src/sim/matching) ----
_OrderTuple = tuple[int, int, int, int, int, int, int, bool, int, int]
_UpdateTuple = tuple[bool, int, int, int, list[tuple[int, int]], list[tuple[int, int]]]

@final
class MatchingEngineCore:
    def __new__(
        cls, tick_size: float, lot_size: float, maker_fee: float, taker_fee: float, stp: str
    ) -> MatchingEngineCore: ...
    def submit(
        self,
        ts: int,
        agent: int,
        client_id: int,
        side: int,
        qty: int,
        price: int | None,
        tif: str,
        reduce_only: bool,
    ) -> int: ...
    def cancel(self, ts: int, agent: int, order_id: int) -> bool: ...
    def cancel_all(self, ts: int, agent: int) -> int: ...
    def amend(
        self, ts: int, agent: int, order_id: int, qty: int | None, price: int | None
    ) -> bool: ...
    def run_ops(
        self,
        op: npt.NDArray[np.uint8],
        ts: npt.NDArray[np.int64],
        agent: npt.NDArray[np.uint32],
        side: npt.NDArray[np.int8],
        price: npt.NDArray[np.int64],
        qty: npt.NDArray[np.int64],
        tif: npt.NDArray[np.uint8],
        target: npt.NDArray[np.uint64],
        keep_events: bool,
    ) -> tuple[int, int, int]: ...
    def take_events(self) -> dict[str, npt.NDArray[np.generic]]: ...
    def pending_events(self) -> int: ...
    def best_bid(self) -> tuple[int, int] | None: ...
    def best_ask(self) -> tuple[int, int] | None: ...
    def depth(
        self, side: int, levels: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
    def order(self, order_id: int) -> _OrderTuple | None: ...
    def open_orders(self, agent: int) -> list[int]: ...
    def position(self, agent: int) -> int: ...
    def seq(self) -> int: ...
    def order_count(self) -> int: ...
    def level_count(self, side: int) -> int: ...

@final
class L2PublisherCore:
    def __new__(cls, depth: int) -> L2PublisherCore: ...
    def publish(self, engine: MatchingEngineCore, ts: int) -> _UpdateTuple | None: ...
    def publish_snapshot(self, engine: MatchingEngineCore, ts: int) -> _UpdateTuple: ...
    def current(self, engine: MatchingEngineCore, ts: int) -> _UpdateTuple | None: ...
    def depth(self) -> int: ...

def matching_codes() -> list[tuple[str, list[str]]]: ...

# ---- sim kernel and agents (rust/src/sim, bindings/sim_py.rs) ----
def sim_scenarios() -> list[str]: ...
def sim_scenario_config(name: str) -> str: ...
def sim_check_config(config_json: str) -> None: ...
def sim_codes() -> tuple[list[str], list[str], list[str], list[str]]: ...
def sim_run(config_json: str, program: ExprProgram | None = None) -> dict[str, Any]: ...
