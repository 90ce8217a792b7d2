//! Drive the engine from arrays of requests in one loop (the simulator's replays and the
//! benchmark use it, so no per-request crossing into Python is measured).

use super::columns::tif_of;
use super::engine::MatchingEngine;
use super::types::{Event, NewOrder, OrderKind, Side};
use crate::error::{CoreError, CoreResult};

pub const OP_LIMIT: u8 = 0;
pub const OP_MARKET: u8 = 1;
pub const OP_CANCEL: u8 = 2;
pub const OP_AMEND: u8 = 3;

/// One request per row. `target` is the order id for cancels and amends; for amends
/// `qty`/`price` <= 0 mean "unchanged". `side` is +1/-1; `tif` a `TIF_NAMES` code.
#[derive(Clone, Copy, Debug)]
pub struct OpArrays<'a> {
    pub op: &'a [u8],
    pub ts: &'a [i64],
    pub agent: &'a [u32],
    pub side: &'a [i8],
    pub price: &'a [i64],
    pub qty: &'a [i64],
    pub tif: &'a [u8],
    pub target: &'a [u64],
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub ops: u64,
    pub events: u64,
    pub trades: u64,
}

impl OpArrays<'_> {
    /// Check lengths and codes before anything is applied.
    pub fn check(&self) -> CoreResult<()> {
        let n = self.op.len();
        let lens = [
            ("ts", self.ts.len()),
            ("agent", self.agent.len()),
            ("side", self.side.len()),
            ("price", self.price.len()),
            ("qty", self.qty.len()),
            ("tif", self.tif.len()),
            ("target", self.target.len()),
        ];
        if let Some((name, len)) = lens.iter().find(|(_, l)| *l != n) {
            return Err(CoreError::InvalidInput(format!(
                "{name} has {len} rows, op has {n}"
            )));
        }
        // One branch-free pass (request kinds are random, so branches would mispredict);
        // the bad row is looked for only when there is one.
        let rows = || self.op.iter().zip(self.side).zip(self.tif);
        let ok = rows().fold(true, |ok, ((&op, &side), &tif)| ok & row_ok(op, side, tif));
        if !ok {
            let i = rows()
                .position(|((&op, &side), &tif)| !row_ok(op, side, tif))
                .unwrap_or(0);
            let (name, v) = if self.op[i] > OP_AMEND {
                ("op", i64::from(self.op[i]))
            } else if self.op[i] <= OP_MARKET && self.side[i] != 1 && self.side[i] != -1 {
                ("side", i64::from(self.side[i]))
            } else {
                ("tif", i64::from(self.tif[i]))
            };
            return Err(bad(i, name, v));
        }
        Ok(())
    }
}

/// A known request kind, a side for submits, a known TIF for limits.
#[inline]
fn row_ok(op: u8, side: i8, tif: u8) -> bool {
    (op <= OP_AMEND)
        & ((op > OP_MARKET) | (side == 1) | (side == -1))
        & ((op != OP_LIMIT) | tif_of(tif).is_some())
}

fn bad(row: usize, name: &str, v: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidInput(format!("row {row}: bad {name} code {v}"))
}

fn positive(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

/// Apply every request in order. Events go to `keep` when given; otherwise they are counted
/// and dropped in chunks (the buffer is reused, so the loop does not allocate).
pub fn run_ops(
    engine: &mut MatchingEngine,
    ops: &OpArrays<'_>,
    mut keep: Option<&mut Vec<Event>>,
) -> CoreResult<RunCounts> {
    ops.check()?;
    let mut scratch = Vec::with_capacity(256);
    let mut counts = RunCounts::default();
    for i in 0..ops.op.len() {
        let out = match keep.as_deref_mut() {
            Some(v) => v,
            None => &mut scratch,
        };
        let before = out.len();
        apply(engine, ops, i, out);
        counts.events += (out.len() - before) as u64;
        counts.trades += out[before..]
            .iter()
            .filter(|e| matches!(e, Event::Trade { .. }))
            .count() as u64;
        scratch.clear();
    }
    counts.ops = ops.op.len() as u64;
    Ok(counts)
}

#[inline]
fn apply(engine: &mut MatchingEngine, ops: &OpArrays<'_>, i: usize, out: &mut Vec<Event>) {
    let ts = ops.ts[i];
    let agent = ops.agent[i];
    match ops.op[i] {
        OP_CANCEL => {
            engine.cancel(ts, agent, ops.target[i], out);
        }
        OP_AMEND => {
            let (q, p) = (positive(ops.qty[i]), positive(ops.price[i]));
            engine.amend(ts, agent, ops.target[i], q, p, out);
        }
        op => {
            let kind = match (op, tif_of(ops.tif[i])) {
                (OP_LIMIT, Some(tif)) => OrderKind::Limit {
                    price: ops.price[i],
                    tif,
                },
                _ => OrderKind::Market,
            };
            let order = NewOrder {
                agent,
                client_id: i as u64,
                side: if ops.side[i] > 0 {
                    Side::Buy
                } else {
                    Side::Sell
                },
                kind,
                qty: ops.qty[i],
                reduce_only: false,
            };
            engine.submit(ts, order, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cfg;
    use super::super::{StpMode, TimeInForce};
    use super::*;

    #[test]
    fn run_ops_equals_direct_calls() {
        let op = [
            OP_LIMIT, OP_LIMIT, OP_AMEND, OP_MARKET, OP_CANCEL, OP_CANCEL,
        ];
        let side = [-1, -1, 0, 1, 0, 0];
        let price = [101, 102, 0, 0, 0, 0];
        let qty = [3, 4, 2, 5, 0, 0];
        let tif = [0, 3, 0, 0, 0, 0];
        let target = [0, 0, 1, 0, 2, 7];
        let ts = [1, 2, 3, 4, 5, 6];
        let agent = [1, 2, 1, 3, 2, 2];
        let a = OpArrays {
            op: &op,
            ts: &ts,
            agent: &agent,
            side: &side,
            price: &price,
            qty: &qty,
            tif: &tif,
            target: &target,
        };
        let mut e = MatchingEngine::new(cfg(StpMode::CancelTaker)).unwrap();
        let mut got = Vec::new();
        let counts = run_ops(&mut e, &a, Some(&mut got)).unwrap();

        let mut d = MatchingEngine::new(cfg(StpMode::CancelTaker)).unwrap();
        let mut want = Vec::new();
        let lim = |agent, client_id, price, qty, tif| NewOrder {
            agent,
            client_id,
            side: Side::Sell,
            kind: OrderKind::Limit { price, tif },
            qty,
            reduce_only: false,
        };
        d.submit(1, lim(1, 0, 101, 3, TimeInForce::Gtc), &mut want);
        d.submit(2, lim(2, 1, 102, 4, TimeInForce::PostOnly), &mut want);
        d.amend(3, 1, 1, Some(2), None, &mut want);
        let m = NewOrder {
            agent: 3,
            client_id: 3,
            side: Side::Buy,
            kind: OrderKind::Market,
            qty: 5,
            reduce_only: false,
        };
        d.submit(4, m, &mut want);
        d.cancel(5, 2, 2, &mut want);
        d.cancel(6, 2, 7, &mut want);
        assert_eq!(got, want);
        let trades = want
            .iter()
            .filter(|e| matches!(e, Event::Trade { .. }))
            .count() as u64;
        assert_eq!(
            counts,
            RunCounts {
                ops: 6,
                events: want.len() as u64,
                trades
            }
        );
        assert_eq!(trades, 2);

        // Without a sink the counts are the same.
        let mut e2 = MatchingEngine::new(cfg(StpMode::CancelTaker)).unwrap();
        assert_eq!(run_ops(&mut e2, &a, None).unwrap(), counts);
    }

    #[test]
    fn bad_arrays_are_refused_before_anything_runs() {
        let mut e = MatchingEngine::new(cfg(StpMode::CancelTaker)).unwrap();
        let good = OpArrays {
            op: &[OP_LIMIT, OP_MARKET],
            ts: &[1, 2],
            agent: &[1, 1],
            side: &[1, -1],
            price: &[100, 0],
            qty: &[1, 1],
            tif: &[0, 0],
            target: &[0, 0],
        };
        let cases = [
            OpArrays {
                op: &[OP_LIMIT, 9],
                ..good
            },
            OpArrays {
                side: &[1, 0],
                ..good
            },
            OpArrays {
                op: &[OP_LIMIT, OP_LIMIT],
                tif: &[0, 7],
                ..good
            },
            OpArrays { ts: &[1], ..good },
        ];
        for a in cases {
            assert!(run_ops(&mut e, &a, None).is_err());
            assert_eq!(e.seq(), 0);
        }
        assert_eq!(run_ops(&mut e, &good, None).unwrap().ops, 2);
    }
}
