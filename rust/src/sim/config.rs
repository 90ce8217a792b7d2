//! Simulator configuration: the market, the fundamental process, the agent population with
//! per-type parameters, the strategy under test and what to record. Deserialised from JSON
//! (unknown keys are errors) and checked by `validate`, whose errors name the bad key.
//!
//! Units are in the names: `_s` seconds, `_us` microseconds, `_ms` milliseconds, `_ticks`
//! price ticks, `_lots` quantity lots, `_bps` basis points; rates are per second unless named.

use serde::{Deserialize, Serialize};

use super::Ns;
use crate::error::{CoreError, CoreResult};

/// Longest simulated run (a week), so a mistyped duration fails fast instead of running away.
pub const MAX_DURATION_S: f64 = 7.0 * 86_400.0;
/// Most slices a maker posts a level in.
pub const MAX_JOIN_SLICES: u32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Simulated time to run (seconds).
    pub duration_s: f64,
    /// Run seed; every agent's and the process's random stream is derived from it.
    pub seed: u64,
    pub market: MarketConfig,
    pub process: ProcessConfig,
    pub agents: AgentsConfig,
    pub strategy: StrategyConfig,
    pub sampling: SamplingConfig,
}

/// The instrument and venue fees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    pub tick_size: f64,
    pub lot_size: f64,
    /// Fee rates on notional; negative maker fee is a rebate.
    pub maker_fee: f64,
    pub taker_fee: f64,
    /// Window of the public realised-volatility estimate every agent sees (seconds).
    pub vol_window_s: f64,
    /// Market orders are executed as IOC limits this far (bps) beyond the mid, as venues
    /// protect them; it keeps a sweep of an empty book from printing absurd prices.
    pub price_band_bps: f64,
}

/// The fundamental value: OU log value around a drifting anchor, plus compound-Poisson jumps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    pub initial_price: f64,
    /// Diffusive volatility of the log value per √day.
    pub vol_per_day: f64,
    /// Drift of the anchor, in log units per day.
    pub drift_per_day: f64,
    /// Pull of the log value towards the anchor (1/s); 0 gives a random walk.
    pub mean_reversion_per_s: f64,
    /// Stochastic volatility: the diffusive volatility is `vol_per_day × exp(h)` with h an
    /// OU process of this standard deviation per √s (0: constant volatility) …
    pub vol_of_vol: f64,
    /// … pulled back to 0 at this rate (1/s); slow rates give long volatility clusters.
    pub vol_reversion_per_s: f64,
    /// A second log-volatility factor added to h (same meaning; 0: off), typically faster:
    /// two time scales make the |r| autocorrelation decay slowly, like a power law.
    pub vol2_of_vol: f64,
    pub vol2_reversion_per_s: f64,
    /// Jump arrival rate (per hour) and the normal law of jump sizes in log units.
    pub jump_rate_per_hour: f64,
    pub jump_mean: f64,
    pub jump_std: f64,
    /// Grid step of the drawn path.
    pub step_ms: f64,
}

/// Order-entry and market-data delay of one agent type; each agent draws its own fixed
/// latency uniformly in `[x, x + jitter_us]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// One way, agent → exchange; exchange responses take the same time back.
    pub order_us: f64,
    /// Exchange → agent for book and trade updates.
    pub md_us: f64,
    pub jitter_us: f64,
}

/// The population, one section per agent type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    pub market_maker: MarketMakerConfig,
    pub hft: HftConfig,
    pub informed: InformedConfig,
    pub noise: NoiseConfig,
    pub momentum: MomentumConfig,
    pub metaorder: MetaOrderConfig,
}

/// Avellaneda–Stoikov market makers quoting a ladder of levels on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketMakerConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Requote at least this often (seconds), besides on market data.
    pub refresh_s: f64,
    /// Shortest gap between two market-data requotes: the delay with which depth refills.
    pub min_requote_s: f64,
    /// Risk aversion γ (per lot-normalised inventory) and order-arrival decay k of A–S.
    pub gamma: f64,
    pub k: f64,
    /// A–S horizon τ (seconds) for the inventory term γ q σ² τ.
    pub horizon_s: f64,
    /// Narrowest and widest half spread; the reservation price stays within the widest
    /// half spread of the mid.
    pub min_half_spread_ticks: f64,
    pub max_half_spread_ticks: f64,
    /// Extra half spread per unit of realised σ over the horizon (ticks per tick).
    pub vol_mult: f64,
    /// Extra half spread per tick of measured adverse selection.
    pub adverse_mult: f64,
    /// How long after a fill the mid move against the maker is measured.
    pub adverse_horizon_s: f64,
    /// Levels per side, their spacing, the size at the touch and the size growth per level.
    pub levels: u32,
    pub level_spacing_ticks: u32,
    pub size_lots: i64,
    pub size_growth: f64,
    /// Stops adding to a side once |inventory| reaches this.
    pub max_inventory_lots: i64,
    /// Weight of the public reference (the fundamental now, as the index and other venues
    /// show it) in the price quoted around; the rest is the maker's own mid (0: mid only).
    pub anchor_weight: f64,
    /// Shift of the anchored reference per lot of net taker buying (ticks; 0: none), decaying
    /// as G(t) ≈ t^−β between the two memory time scales (seconds).
    pub flow_impact_ticks_per_lot: f64,
    pub flow_memory_min_s: f64,
    pub flow_memory_max_s: f64,
    pub flow_decay_exponent: f64,
    /// The net flow between two updates counts as |lots|^this (1: linear; below 1, concave).
    pub flow_size_exponent: f64,
    /// Standard deviation of the log size of each new quote around the ladder size (0: fixed).
    pub size_dispersion: f64,
    /// A touch level the maker (re)joins is posted in this many equal slices (1: at once), the
    /// first at once and each next one after an exponential gap of mean `join_interval_s`:
    /// a touch that just moved starts thin and builds up, as it does live.
    pub join_slices: u32,
    pub join_interval_s: f64,
}

/// Short-horizon traders on top-of-book imbalance: momentum or mean reversion, fast cancels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HftConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Share of HFTs following imbalance (momentum); the rest fade it.
    pub momentum_fraction: f64,
    /// |signal| above which they join the touch, and above which they take liquidity.
    pub post_threshold: f64,
    pub take_threshold: f64,
    pub size_lots: i64,
    pub max_inventory_lots: i64,
    /// Resting orders older than this are cancelled.
    pub cancel_after_s: f64,
    /// Wake-up period (to cancel and unwind) besides market data.
    pub interval_s: f64,
    /// Shortest gap between two actions on market data.
    pub cooldown_s: f64,
}

/// Informed (toxic) traders: they see the fundamental `horizon_s` ahead and hit the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InformedConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Arrival rate of each agent (per second).
    pub rate: f64,
    pub horizon_s: f64,
    /// Mispricing (bps of mid) needed to trade.
    pub threshold_bps: f64,
    /// Size at the threshold; grows linearly with the mispricing up to `max_size_lots`.
    pub size_lots: i64,
    pub max_size_lots: i64,
    pub max_inventory_lots: i64,
    /// Meta-orders: a decision is worked as market orders of at most `child_lots`, one every
    /// `child_interval_s` (0 lots: all at once). Split orders give order signs long memory.
    pub child_lots: i64,
    pub child_interval_s: f64,
}

/// Institutional traders working heavy-tailed meta-orders as child market orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetaOrderConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Rate (per second) at which an idle agent starts its next parent order.
    pub rate: f64,
    /// Pareto law of parent sizes: minimum and tail index α (sign memory decays as
    /// lag^−(α−1)); capped at `max_size_lots`.
    pub size_min_lots: f64,
    pub size_alpha: f64,
    pub max_size_lots: i64,
    /// Child market orders: at most this many lots, at exponential gaps of this mean.
    pub child_lots: i64,
    pub child_interval_s: f64,
    /// Probability that a parent's side follows the fundamental `horizon_s` ahead (else a
    /// coin flip).
    pub signal_prob: f64,
    pub horizon_s: f64,
}

/// Noise traders: Poisson arrivals of market and limit orders with Pareto sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Arrival rate of each agent (per second) in a calm market.
    pub rate: f64,
    /// Activity multiplier per unit of (realised σ / `vol_ref_bps` − 1), floored at 1.
    pub vol_sensitivity: f64,
    /// Reference realised σ (bps per √s) for the activity feedback.
    pub vol_ref_bps: f64,
    /// Cap of the activity multiplier.
    pub max_activity: f64,
    /// Probability that an arrival is a market order.
    pub market_prob: f64,
    /// Pareto law of sizes: minimum and tail index; capped at `max_size_lots`.
    pub size_min_lots: f64,
    pub size_alpha: f64,
    pub max_size_lots: i64,
    /// Mean distance of limit orders behind the same-side touch (geometric law).
    pub offset_mean_ticks: f64,
    /// Mean lifetime of a resting limit order before the agent cancels it.
    pub lifetime_s: f64,
}

/// Trend followers: fast/slow moving averages of the mid, market orders on a cross.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumConfig {
    pub count: u32,
    pub latency: LatencyConfig,
    /// Mean wake-up period (exponential gaps).
    pub interval_s: f64,
    /// EMA spans, in observations.
    pub fast_span: u32,
    pub slow_span: u32,
    pub threshold_bps: f64,
    pub size_lots: i64,
    pub max_inventory_lots: i64,
}

/// The strategy under test; active only when a program is passed to the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    pub latency: LatencyConfig,
    /// Decision period: features are computed and the expression stepped once per period.
    pub interval_s: f64,
    /// Target 1.0 means this many lots long.
    pub max_position_lots: i64,
    /// Largest single order (child order of a bigger target change).
    pub max_order_lots: i64,
    /// Start trading after this much simulated time.
    pub start_s: f64,
}

/// What the run records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Top-of-book sample period.
    pub top_interval_s: f64,
    /// L2 sample period and levels per side (0 levels: none).
    pub l2_interval_s: f64,
    pub l2_levels: u32,
    /// Mid-price (and fundamental) grid.
    pub mid_interval_s: f64,
    /// Keep every order, cancel and trade in the event table.
    pub record_events: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            duration_s: 3600.0,
            seed: 1,
            market: MarketConfig::default(),
            process: ProcessConfig::default(),
            agents: AgentsConfig::default(),
            strategy: StrategyConfig::default(),
            sampling: SamplingConfig::default(),
        }
    }
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            tick_size: 0.5,
            lot_size: 0.001,
            maker_fee: 0.0002,
            taker_fee: 0.00055,
            vol_window_s: 300.0,
            price_band_bps: 50.0,
        }
    }
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            initial_price: 20_000.0,
            vol_per_day: 0.03,
            drift_per_day: 0.0,
            mean_reversion_per_s: 0.0,
            vol_of_vol: 0.0,
            vol_reversion_per_s: 1.0 / 1800.0,
            vol2_of_vol: 0.0,
            vol2_reversion_per_s: 1.0 / 300.0,
            jump_rate_per_hour: 0.5,
            jump_mean: 0.0,
            jump_std: 0.001,
            step_ms: 100.0,
        }
    }
}

impl LatencyConfig {
    const fn new(order_us: f64, md_us: f64, jitter_us: f64) -> Self {
        Self {
            order_us,
            md_us,
            jitter_us,
        }
    }
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self::new(5_000.0, 5_000.0, 5_000.0)
    }
}

impl Default for MarketMakerConfig {
    fn default() -> Self {
        Self {
            count: 2,
            latency: LatencyConfig::new(500.0, 500.0, 500.0),
            refresh_s: 1.0,
            min_requote_s: 0.05,
            gamma: 0.05,
            k: 1.0,
            horizon_s: 1.0,
            min_half_spread_ticks: 0.5,
            max_half_spread_ticks: 100.0,
            vol_mult: 0.5,
            adverse_mult: 0.5,
            adverse_horizon_s: 1.0,
            levels: 10,
            level_spacing_ticks: 2,
            size_lots: 200,
            size_growth: 0.3,
            max_inventory_lots: 20_000,
            anchor_weight: 0.0,
            flow_impact_ticks_per_lot: 0.0,
            flow_memory_min_s: 1.0,
            flow_memory_max_s: 1_000.0,
            flow_decay_exponent: 0.5,
            flow_size_exponent: 1.0,
            size_dispersion: 0.0,
            join_slices: 1,
            join_interval_s: 0.05,
        }
    }
}

impl Default for HftConfig {
    fn default() -> Self {
        Self {
            count: 5,
            latency: LatencyConfig::new(100.0, 100.0, 200.0),
            momentum_fraction: 0.5,
            post_threshold: 0.5,
            take_threshold: 0.85,
            size_lots: 50,
            max_inventory_lots: 500,
            cancel_after_s: 0.2,
            interval_s: 0.5,
            cooldown_s: 0.05,
        }
    }
}

impl Default for InformedConfig {
    fn default() -> Self {
        Self {
            count: 100,
            latency: LatencyConfig::default(),
            rate: 1.0 / 60.0,
            // Ahead enough, and a threshold above the round-trip cost, to trade at a profit.
            horizon_s: 60.0,
            threshold_bps: 8.0,
            size_lots: 100,
            max_size_lots: 2_000,
            max_inventory_lots: 10_000,
            child_lots: 0,
            child_interval_s: 1.0,
        }
    }
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            count: 1_000,
            latency: LatencyConfig::new(20_000.0, 20_000.0, 30_000.0),
            rate: 0.02,
            vol_sensitivity: 1.0,
            vol_ref_bps: 1.0,
            max_activity: 4.0,
            market_prob: 0.3,
            size_min_lots: 10.0,
            size_alpha: 1.5,
            max_size_lots: 5_000,
            offset_mean_ticks: 10.0,
            lifetime_s: 60.0,
        }
    }
}

impl Default for MetaOrderConfig {
    fn default() -> Self {
        Self {
            count: 0,
            latency: LatencyConfig::default(),
            rate: 1.0 / 600.0,
            size_min_lots: 100.0,
            size_alpha: 1.5,
            max_size_lots: 1_000_000,
            child_lots: 10,
            child_interval_s: 2.0,
            signal_prob: 0.0,
            horizon_s: 300.0,
        }
    }
}

impl Default for MomentumConfig {
    fn default() -> Self {
        Self {
            count: 12,
            latency: LatencyConfig::default(),
            interval_s: 10.0,
            fast_span: 6,
            slow_span: 30,
            threshold_bps: 2.0,
            size_lots: 100,
            max_inventory_lots: 2_000,
        }
    }
}

impl Default for StrategyConfig {
    fn default() -> Self {
        Self {
            latency: LatencyConfig::new(2_000.0, 2_000.0, 0.0),
            interval_s: 1.0,
            max_position_lots: 1_000,
            max_order_lots: 100,
            start_s: 60.0,
        }
    }
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            top_interval_s: 1.0,
            l2_interval_s: 60.0,
            l2_levels: 10,
            mid_interval_s: 60.0,
            record_events: true,
        }
    }
}

/// Checks of one section, prefixing every key with the section's dotted path.
struct Check<'a> {
    path: &'a str,
}

impl Check<'_> {
    fn fail(&self, key: &str, rule: &str, v: impl std::fmt::Display) -> CoreError {
        CoreError::InvalidInput(format!("{}{key} must be {rule} (got {v})", self.path))
    }
    fn finite(&self, key: &str, v: f64) -> CoreResult<()> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(self.fail(key, "finite", v))
        }
    }
    fn positive(&self, key: &str, v: f64) -> CoreResult<()> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(self.fail(key, "> 0", v))
        }
    }
    fn non_negative(&self, key: &str, v: f64) -> CoreResult<()> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(self.fail(key, ">= 0", v))
        }
    }
    fn probability(&self, key: &str, v: f64) -> CoreResult<()> {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(self.fail(key, "in [0, 1]", v))
        }
    }
    fn lots(&self, key: &str, v: i64) -> CoreResult<()> {
        if v > 0 {
            Ok(())
        } else {
            Err(self.fail(key, "> 0", v))
        }
    }
    fn latency(&self, l: &LatencyConfig) -> CoreResult<()> {
        self.non_negative("latency.order_us", l.order_us)?;
        self.non_negative("latency.md_us", l.md_us)?;
        self.non_negative("latency.jitter_us", l.jitter_us)
    }
}

impl SimConfig {
    /// Every range check; the error names the dotted key (e.g. `agents.noise.rate`).
    pub fn validate(&self) -> CoreResult<()> {
        let top = Check { path: "" };
        top.positive("duration_s", self.duration_s)?;
        if self.duration_s > MAX_DURATION_S {
            return Err(top.fail("duration_s", "<= 604800 (a week)", self.duration_s));
        }
        self.market.validate()?;
        self.process.validate()?;
        self.agents.validate()?;
        self.strategy.validate()?;
        self.sampling.validate()
    }

    pub fn duration_ns(&self) -> Ns {
        secs(self.duration_s)
    }
}

impl MarketConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check { path: "market." };
        c.positive("tick_size", self.tick_size)?;
        c.positive("lot_size", self.lot_size)?;
        c.finite("maker_fee", self.maker_fee)?;
        c.finite("taker_fee", self.taker_fee)?;
        for (key, fee) in [("maker_fee", self.maker_fee), ("taker_fee", self.taker_fee)] {
            if fee.abs() >= 0.1 {
                return Err(c.fail(key, "a rate below 0.1 in size", fee));
            }
        }
        c.positive("vol_window_s", self.vol_window_s)?;
        c.positive("price_band_bps", self.price_band_bps)?;
        if self.price_band_bps >= 5_000.0 {
            return Err(c.fail("price_band_bps", "< 5000", self.price_band_bps));
        }
        Ok(())
    }
}

impl ProcessConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check { path: "process." };
        c.positive("initial_price", self.initial_price)?;
        c.non_negative("vol_per_day", self.vol_per_day)?;
        c.finite("drift_per_day", self.drift_per_day)?;
        c.non_negative("mean_reversion_per_s", self.mean_reversion_per_s)?;
        c.non_negative("vol_of_vol", self.vol_of_vol)?;
        c.positive("vol_reversion_per_s", self.vol_reversion_per_s)?;
        c.non_negative("vol2_of_vol", self.vol2_of_vol)?;
        c.positive("vol2_reversion_per_s", self.vol2_reversion_per_s)?;
        c.non_negative("jump_rate_per_hour", self.jump_rate_per_hour)?;
        c.finite("jump_mean", self.jump_mean)?;
        c.non_negative("jump_std", self.jump_std)?;
        c.positive("step_ms", self.step_ms)
    }
}

impl AgentsConfig {
    fn validate(&self) -> CoreResult<()> {
        self.market_maker.validate()?;
        self.hft.validate()?;
        self.informed.validate()?;
        self.noise.validate()?;
        self.momentum.validate()?;
        self.metaorder.validate()
    }
}

impl MarketMakerConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.market_maker.",
        };
        c.latency(&self.latency)?;
        c.positive("refresh_s", self.refresh_s)?;
        c.non_negative("min_requote_s", self.min_requote_s)?;
        c.positive("gamma", self.gamma)?;
        c.positive("k", self.k)?;
        c.non_negative("horizon_s", self.horizon_s)?;
        c.non_negative("min_half_spread_ticks", self.min_half_spread_ticks)?;
        if self.max_half_spread_ticks.is_nan()
            || self.max_half_spread_ticks < self.min_half_spread_ticks.max(0.5)
        {
            return Err(c.fail(
                "max_half_spread_ticks",
                ">= max(0.5, min_half_spread_ticks)",
                self.max_half_spread_ticks,
            ));
        }
        c.non_negative("vol_mult", self.vol_mult)?;
        c.non_negative("adverse_mult", self.adverse_mult)?;
        c.positive("adverse_horizon_s", self.adverse_horizon_s)?;
        c.lots("levels", i64::from(self.levels))?;
        c.lots("level_spacing_ticks", i64::from(self.level_spacing_ticks))?;
        c.lots("size_lots", self.size_lots)?;
        c.non_negative("size_growth", self.size_growth)?;
        c.lots("max_inventory_lots", self.max_inventory_lots)?;
        c.probability("anchor_weight", self.anchor_weight)?;
        c.non_negative("flow_impact_ticks_per_lot", self.flow_impact_ticks_per_lot)?;
        c.positive("flow_memory_min_s", self.flow_memory_min_s)?;
        // The kernel's exponentials are 4x apart, at most 12 of them.
        let widest = self.flow_memory_min_s * 4f64.powi(11);
        if !(self.flow_memory_max_s >= self.flow_memory_min_s && self.flow_memory_max_s <= widest) {
            return Err(c.fail(
                "flow_memory_max_s",
                "in [flow_memory_min_s, flow_memory_min_s x 4^11]",
                self.flow_memory_max_s,
            ));
        }
        if !(0.0..=1.0).contains(&self.flow_decay_exponent) {
            return Err(c.fail("flow_decay_exponent", "in [0, 1]", self.flow_decay_exponent));
        }
        if !(0.0..=1.0).contains(&self.flow_size_exponent) {
            return Err(c.fail("flow_size_exponent", "in [0, 1]", self.flow_size_exponent));
        }
        c.non_negative("size_dispersion", self.size_dispersion)?;
        if self.size_dispersion > 3.0 {
            return Err(c.fail("size_dispersion", "<= 3", self.size_dispersion));
        }
        if !(1..=MAX_JOIN_SLICES).contains(&self.join_slices) {
            return Err(c.fail("join_slices", "in [1, 100]", self.join_slices));
        }
        c.positive("join_interval_s", self.join_interval_s)?;
        Ok(())
    }
}

impl HftConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.hft.",
        };
        c.latency(&self.latency)?;
        c.probability("momentum_fraction", self.momentum_fraction)?;
        c.probability("post_threshold", self.post_threshold)?;
        c.probability("take_threshold", self.take_threshold)?;
        c.lots("size_lots", self.size_lots)?;
        c.lots("max_inventory_lots", self.max_inventory_lots)?;
        c.positive("cancel_after_s", self.cancel_after_s)?;
        c.positive("interval_s", self.interval_s)?;
        c.non_negative("cooldown_s", self.cooldown_s)
    }
}

impl InformedConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.informed.",
        };
        c.latency(&self.latency)?;
        c.non_negative("rate", self.rate)?;
        c.non_negative("horizon_s", self.horizon_s)?;
        c.non_negative("threshold_bps", self.threshold_bps)?;
        c.lots("size_lots", self.size_lots)?;
        c.lots("max_size_lots", self.max_size_lots)?;
        c.lots("max_inventory_lots", self.max_inventory_lots)?;
        if self.child_lots < 0 {
            return Err(c.fail("child_lots", ">= 0", self.child_lots));
        }
        c.positive("child_interval_s", self.child_interval_s)
    }
}

impl NoiseConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.noise.",
        };
        c.latency(&self.latency)?;
        c.non_negative("rate", self.rate)?;
        c.non_negative("vol_sensitivity", self.vol_sensitivity)?;
        c.positive("vol_ref_bps", self.vol_ref_bps)?;
        if !(self.max_activity >= 1.0 && self.max_activity.is_finite()) {
            return Err(c.fail("max_activity", ">= 1", self.max_activity));
        }
        c.probability("market_prob", self.market_prob)?;
        c.positive("size_min_lots", self.size_min_lots)?;
        c.positive("size_alpha", self.size_alpha)?;
        c.lots("max_size_lots", self.max_size_lots)?;
        c.non_negative("offset_mean_ticks", self.offset_mean_ticks)?;
        c.positive("lifetime_s", self.lifetime_s)
    }
}

impl MetaOrderConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.metaorder.",
        };
        c.latency(&self.latency)?;
        c.non_negative("rate", self.rate)?;
        c.positive("size_min_lots", self.size_min_lots)?;
        c.positive("size_alpha", self.size_alpha)?;
        c.lots("max_size_lots", self.max_size_lots)?;
        c.lots("child_lots", self.child_lots)?;
        c.positive("child_interval_s", self.child_interval_s)?;
        c.probability("signal_prob", self.signal_prob)?;
        c.non_negative("horizon_s", self.horizon_s)
    }
}

impl MomentumConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check {
            path: "agents.momentum.",
        };
        c.latency(&self.latency)?;
        c.positive("interval_s", self.interval_s)?;
        c.lots("fast_span", i64::from(self.fast_span))?;
        if self.slow_span <= self.fast_span {
            return Err(c.fail("slow_span", "> fast_span", self.slow_span));
        }
        c.non_negative("threshold_bps", self.threshold_bps)?;
        c.lots("size_lots", self.size_lots)?;
        c.lots("max_inventory_lots", self.max_inventory_lots)
    }
}

impl StrategyConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check { path: "strategy." };
        c.latency(&self.latency)?;
        c.positive("interval_s", self.interval_s)?;
        c.lots("max_position_lots", self.max_position_lots)?;
        c.lots("max_order_lots", self.max_order_lots)?;
        c.non_negative("start_s", self.start_s)
    }
}

impl SamplingConfig {
    fn validate(&self) -> CoreResult<()> {
        let c = Check { path: "sampling." };
        c.positive("top_interval_s", self.top_interval_s)?;
        c.positive("l2_interval_s", self.l2_interval_s)?;
        c.positive("mid_interval_s", self.mid_interval_s)?;
        if self.l2_levels > 1000 {
            return Err(c.fail("l2_levels", "<= 1000", self.l2_levels));
        }
        Ok(())
    }
}

/// Seconds to nanoseconds (saturating; callers validate ranges first).
pub fn secs(s: f64) -> Ns {
    (s * 1e9).round() as Ns
}

/// Microseconds to nanoseconds.
pub fn micros(us: f64) -> Ns {
    (us * 1e3).round() as Ns
}
