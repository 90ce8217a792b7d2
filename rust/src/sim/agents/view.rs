//! What agents see of the market: top-of-book snapshots stamped with the exchange time, kept
//! just long enough that every agent can read the one its data latency shows it.

use std::collections::VecDeque;

use super::super::Ns;

/// The public market at one instant: top of book, last trade, traded volume, realised vol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketView {
    /// Exchange time of this state.
    pub ts: Ns,
    /// Best bid and ask in ticks and their lots; a qty of 0 means the side is empty.
    pub bid: i64,
    pub bid_qty: i64,
    pub ask: i64,
    pub ask_qty: i64,
    /// Mid in ticks; the last two-sided mid while a side is empty.
    pub mid: f64,
    /// Last trade price in ticks (the initial price before any trade).
    pub last_trade: i64,
    /// Cumulative taker buy and sell lots since the start.
    pub buy_volume: i64,
    pub sell_volume: i64,
    /// Realised variance of the log mid per second (exponentially weighted).
    pub var_rate: f64,
}

impl MarketView {
    fn initial(mid_ticks: f64, var_rate: f64) -> Self {
        Self {
            ts: 0,
            bid: 0,
            bid_qty: 0,
            ask: 0,
            ask_qty: 0,
            mid: mid_ticks,
            last_trade: mid_ticks.round() as i64,
            buy_volume: 0,
            sell_volume: 0,
            var_rate,
        }
    }

    pub fn two_sided(&self) -> bool {
        self.bid_qty > 0 && self.ask_qty > 0
    }

    /// Spread in ticks, None when a side is empty.
    pub fn spread(&self) -> Option<i64> {
        self.two_sided().then(|| self.ask - self.bid)
    }

    /// Top-level imbalance (bid − ask) / (bid + ask) in [−1, 1]; 0 when the book is empty.
    pub fn imbalance(&self) -> f64 {
        let total = self.bid_qty + self.ask_qty;
        if total == 0 {
            0.0
        } else {
            (self.bid_qty - self.ask_qty) as f64 / total as f64
        }
    }

    /// Realised volatility of the log mid per √s.
    pub fn vol(&self) -> f64 {
        self.var_rate.max(0.0).sqrt()
    }
}

/// Snapshots in time order; old ones are dropped once no agent's latency can reach them.
#[derive(Debug, Clone)]
pub struct MarketHistory {
    states: VecDeque<MarketView>,
    keep_ns: Ns,
    window_ns: f64,
}

impl MarketHistory {
    /// `keep_ns`: the longest market-data latency; `vol_window_ns`: the realised-vol window.
    pub fn new(mid_ticks: f64, var_rate: f64, keep_ns: Ns, vol_window_ns: Ns) -> Self {
        let mut states = VecDeque::with_capacity(1024);
        states.push_back(MarketView::initial(mid_ticks, var_rate));
        Self {
            states,
            keep_ns: keep_ns.max(0),
            window_ns: vol_window_ns.max(1) as f64,
        }
    }

    pub fn latest(&self) -> &MarketView {
        self.states.back().expect("history is never empty")
    }

    /// The state an observer with latency `lat` sees at `now`: the last one stamped ≤ now − lat.
    pub fn at(&self, now: Ns, lat: Ns) -> &MarketView {
        let t = now - lat;
        let i = self.states.partition_point(|s| s.ts <= t);
        &self.states[i.saturating_sub(1)]
    }

    /// Records the book after an exchange message: top of book and trades `(price, qty,
    /// taker buys)` it produced. Returns whether anything changed.
    pub fn record(
        &mut self,
        ts: Ns,
        bid: Option<(i64, i64)>,
        ask: Option<(i64, i64)>,
        trades: &[(i64, i64, bool)],
    ) -> bool {
        let prev = *self.latest();
        let (bid, bid_qty) = bid.unwrap_or((0, 0));
        let (ask, ask_qty) = ask.unwrap_or((0, 0));
        if trades.is_empty()
            && (bid, bid_qty, ask, ask_qty) == (prev.bid, prev.bid_qty, prev.ask, prev.ask_qty)
        {
            return false;
        }
        let mut next = MarketView {
            ts,
            bid,
            bid_qty,
            ask,
            ask_qty,
            ..prev
        };
        for &(price, qty, buy) in trades {
            next.last_trade = price;
            if buy {
                next.buy_volume += qty;
            } else {
                next.sell_volume += qty;
            }
        }
        if next.two_sided() {
            next.mid = 0.5 * (bid + ask) as f64;
        }
        next.var_rate = self.decayed_var(&prev, ts, next.mid);
        self.push(next);
        true
    }

    /// Exponentially weighted sum of squared log-mid changes over the window, per second.
    fn decayed_var(&self, prev: &MarketView, ts: Ns, mid: f64) -> f64 {
        let decay = (-((ts - prev.ts) as f64) / self.window_ns).exp();
        let r = if prev.mid > 0.0 && mid > 0.0 {
            (mid / prev.mid).ln()
        } else {
            0.0
        };
        prev.var_rate * decay + r * r * 1e9 / self.window_ns
    }

    fn push(&mut self, s: MarketView) {
        let horizon = s.ts - self.keep_ns;
        // Keep the newest state at or before the horizon: the slowest observer reads it.
        while self.states.len() > 1 && self.states[1].ts <= horizon {
            self.states.pop_front();
        }
        if let Some(last) = self.states.back_mut() {
            if last.ts == s.ts {
                *last = s;
                return;
            }
        }
        self.states.push_back(s);
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observer_sees_the_state_its_latency_allows() {
        let mut h = MarketHistory::new(100.0, 0.0, 1_000, 1_000_000_000);
        assert!(h.record(100, Some((99, 5)), Some((101, 5)), &[]));
        assert!(h.record(500, Some((100, 5)), Some((101, 5)), &[]));
        assert!(!h.record(600, Some((100, 5)), Some((101, 5)), &[]));
        assert_eq!(h.at(700, 0).bid, 100);
        assert_eq!(h.at(700, 200).bid, 100);
        assert_eq!(h.at(700, 201).bid, 99);
        assert_eq!(h.at(700, 650).bid, 0, "before any book: the initial state");
        assert_eq!(h.at(700, 650).mid, 100.0);
    }

    #[test]
    fn same_instant_updates_collapse_and_old_states_are_dropped() {
        let mut h = MarketHistory::new(100.0, 0.0, 100, 1_000_000_000);
        h.record(10, Some((99, 1)), Some((101, 1)), &[]);
        h.record(10, Some((99, 2)), Some((101, 1)), &[(101, 3, true)]);
        assert_eq!(h.len(), 2);
        assert_eq!(h.latest().buy_volume, 3);
        for t in 1..50 {
            h.record(t * 100, Some((99, t)), Some((101, 1)), &[]);
        }
        assert!(h.len() <= 3, "kept {}", h.len());
        assert_eq!(h.at(4_900, 100).bid_qty, 48);
    }

    #[test]
    fn realised_variance_grows_with_mid_moves() {
        let mut h = MarketHistory::new(100.0, 0.0, 0, 1_000_000_000);
        h.record(1, Some((99, 1)), Some((101, 1)), &[]);
        assert_eq!(h.latest().var_rate, 0.0);
        h.record(2, Some((109, 1)), Some((111, 1)), &[]);
        let v = h.latest().var_rate;
        assert!((v - (110.0f64 / 100.0).ln().powi(2)).abs() < 1e-6, "{v}");
    }
}
