//! `MetricsAcc` for `W` strategies stepped in lockstep, one array per field: every branch of
//! the scalar push is computed for all lanes and selected, so the lanes' arithmetic runs in
//! vector registers. Each lane runs the scalar push's float operations in the same order
//! (counters are whole numbers in f64, exact far beyond any bar count), so `lane(k)` is the
//! `MetricsAcc` the scalar path builds, bit for bit.

// Lanes are indexed by k across several arrays at once: the form the vectorizer reads.
#![allow(clippy::needless_range_loop)]

use super::metrics::{MetricsAcc, DD_MARGIN};

/// Lanes per pack: four 512-bit (eight 256-bit) vectors of f64, so a bar's chain of
/// divisions and roundings (cash → equity → order → cash) runs as four independent chains.
pub(super) const W: usize = 32;
/// One value per lane.
pub(super) type V = [f64; W];

/// One bar of `W` lanes (the `Bar` fields the metrics read).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BarPack {
    pub position: V,
    pub fees: V,
    pub spread: V,
    /// Written only on bars with funding (`push::<true>`).
    pub funding: V,
    pub traded: V,
    pub fill_price: V,
    pub equity: V,
}

/// `MetricsAcc`'s fields, one lane each (see there for their meaning).
#[derive(Debug, Clone)]
pub(super) struct MetricsPack {
    initial: f64,
    bars: usize,
    last_equity: V,
    prev_equity: V,
    shift: V,
    s1: V,
    s2: V,
    down2: V,
    peak: V,
    worst_dd: V,
    under: V,
    longest_under: V,
    trip_pnl: V,
    trip_start: V,
    prev_pos: V,
    trips: V,
    wins: V,
    held: V,
    traded: V,
    trades: V,
    fees: V,
    spread: V,
    slippage: V,
    impact: V,
    impact_perm: V,
    funding: V,
}

impl MetricsPack {
    pub(super) fn new(initial: f64) -> Self {
        let z = [0.0; W];
        Self {
            initial,
            bars: 0,
            last_equity: [f64::NAN; W],
            prev_equity: [initial; W],
            shift: z,
            s1: z,
            s2: z,
            down2: z,
            peak: [initial; W],
            worst_dd: z,
            under: z,
            longest_under: z,
            trip_pnl: z,
            trip_start: z,
            prev_pos: z,
            trips: z,
            wins: z,
            held: z,
            traded: z,
            trades: z,
            fees: z,
            spread: z,
            slippage: z,
            impact: z,
            impact_perm: z,
            funding: z,
        }
    }

    /// `MetricsAcc::push` of one bar for every lane; `FUNDED` false when no lane pays or
    /// receives funding this bar (then `b.funding` is not read: x − 0.0 is x, and a sum that
    /// starts at +0.0 is never −0.0, so adding +0.0 changes nothing). Slippage, temporary and
    /// carried impact are ±0.0 on the fast path; `add_priced` adds the cost model's.
    #[inline(always)]
    pub(super) fn push<const FUNDED: bool>(&mut self, b: &BarPack) {
        self.add_return(&b.equity);
        self.add_drawdown(&b.equity);
        self.add_trip::<FUNDED>(b);
        for k in 0..W {
            // Adding a bar without a fill changes nothing (as in `MetricsAcc::push`).
            let live = b.traded[k] != 0.0;
            self.fees[k] = pick(live, self.fees[k] + b.fees[k], self.fees[k]);
            self.spread[k] = pick(live, self.spread[k] + b.spread[k], self.spread[k]);
            if FUNDED {
                self.funding[k] += b.funding[k];
            }
        }
        self.last_equity = b.equity;
        self.bars += 1;
    }

    /// Lane `k`'s fill priced by the cost model this bar: its slippage, temporary impact and
    /// carried-impact cost (the sums `push` leaves alone).
    pub(super) fn add_priced(&mut self, k: usize, slippage: f64, impact: f64, perm: f64) {
        self.slippage[k] += slippage;
        self.impact[k] += impact;
        self.impact_perm[k] += perm;
    }

    #[inline(always)]
    fn add_return(&mut self, equity: &V) {
        let mut r = [0.0; W];
        for k in 0..W {
            let (e, prev) = (equity[k], self.prev_equity[k]);
            r[k] = if prev > 0.0 { e / prev - 1.0 } else { 0.0 };
            self.prev_equity[k] = e;
        }
        if self.bars == 0 {
            self.shift = r;
        }
        for k in 0..W {
            let d = r[k] - self.shift[k];
            self.s1[k] += d;
            self.s2[k] += d * d;
            self.down2[k] += r[k].min(0.0) * r[k].min(0.0);
        }
    }

    #[inline(always)]
    fn add_drawdown(&mut self, equity: &V) {
        // The candidate depth of every lane first (a plain vector division), then the selects.
        let mut candidate = [0.0; W];
        for k in 0..W {
            candidate[k] = self.worst_dd[k].max(1.0 - equity[k] / self.peak[k]);
        }
        // Kept whole: otherwise the compiler moves each lane's division under its own branch
        // (it is used only when the drawdown deepens) and the lanes run one by one.
        let candidate = std::hint::black_box(candidate);
        for k in 0..W {
            let (e, peak, worst) = (equity[k], self.peak[k], self.worst_dd[k]);
            let high = e >= peak;
            let deeper = !high && e < peak * (1.0 - worst) * (1.0 + DD_MARGIN);
            self.worst_dd[k] = pick(deeper, candidate[k], worst);
            self.peak[k] = pick(high, e, peak);
            let under = pick(high, 0.0, self.under[k] + 1.0);
            self.under[k] = under;
            // A new longest stretch only happens under water (under is 0 at a peak).
            self.longest_under[k] =
                pick(under > self.longest_under[k], under, self.longest_under[k]);
        }
    }

    #[inline(always)]
    fn add_trip<const FUNDED: bool>(&mut self, b: &BarPack) {
        let bar = self.bars as f64;
        for k in 0..W {
            let (q, pos, prev) = (b.traded[k], b.position[k], self.prev_pos[k]);
            let live = q != 0.0;
            let pnl = if FUNDED {
                self.trip_pnl[k] - b.funding[k]
            } else {
                self.trip_pnl[k]
            };
            let flow = -q * b.fill_price[k] - b.fees[k];
            let opens = live && prev == 0.0;
            let adds = live && !opens && pos != 0.0 && pos.signum() == prev.signum();
            let closes = live && !opens && !adds;
            // Closes (or flips): the closing share of the fill ends this trip.
            let closing = prev.abs() / q.abs();
            let closed = pnl + flow * closing;
            self.trips[k] += pick(closes, 1.0, 0.0);
            self.wins[k] += pick(closes && closed > 0.0, 1.0, 0.0);
            self.held[k] += pick(closes, bar - self.trip_start[k], 0.0);
            self.trip_pnl[k] = if opens {
                flow
            } else if adds {
                pnl + flow
            } else if closes {
                flow * (1.0 - closing)
            } else {
                pnl
            };
            self.trip_start[k] = pick(opens || closes, bar, self.trip_start[k]);
            self.traded[k] = pick(
                live,
                self.traded[k] + q.abs() * b.fill_price[k],
                self.traded[k],
            );
            self.trades[k] += pick(live, 1.0, 0.0);
            self.prev_pos[k] = pos;
        }
    }

    /// Lane `k` as the scalar accumulator (its `finish` gives the metrics).
    pub(super) fn lane(&self, k: usize) -> MetricsAcc {
        // Counters are whole numbers below 2^53: the conversion is exact.
        let n = |v: &V| v[k] as usize;
        MetricsAcc {
            initial: self.initial,
            bars: self.bars,
            last_equity: self.last_equity[k],
            prev_equity: self.prev_equity[k],
            shift: self.shift[k],
            s1: self.s1[k],
            s2: self.s2[k],
            down2: self.down2[k],
            peak: self.peak[k],
            worst_dd: self.worst_dd[k],
            under: n(&self.under),
            longest_under: n(&self.longest_under),
            trip_pnl: self.trip_pnl[k],
            trip_start: n(&self.trip_start),
            prev_pos: self.prev_pos[k],
            trips: n(&self.trips),
            wins: n(&self.wins),
            held: n(&self.held),
            traded: self.traded[k],
            trades: n(&self.trades),
            fees: self.fees[k],
            spread: self.spread[k],
            slippage: self.slippage[k],
            impact: self.impact[k],
            impact_perm: self.impact_perm[k],
            funding: self.funding[k],
        }
    }
}

#[inline(always)]
fn pick(c: bool, a: f64, b: f64) -> f64 {
    if c {
        a
    } else {
        b
    }
}
