//! Property tests: the book equals a plain BTreeMap model of the rules after every message,
//! and `replay_top_levels` equals querying a streaming book.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::tests::{rows_of, Msg};
use super::*;

type TickLevels = Vec<(i64, f64)>;

/// The rules written as plainly as possible.
#[derive(Default)]
struct Model {
    bids: BTreeMap<i64, f64>,
    asks: BTreeMap<i64, f64>,
    valid: bool,
    seen_snapshot: bool,
    last: i64,
}

impl Model {
    fn apply(&mut self, (u, p, snap, levels): &Msg, tick: f64) {
        let snapshot = *snap || *u == 1;
        let bad = levels.iter().any(|&(px, q, s)| {
            !(px.is_finite() && px > 0.0 && q.is_finite() && q >= 0.0 && (s == 1 || s == -1))
        });
        if !snapshot {
            if !self.seen_snapshot || !self.valid || *u <= self.last {
                return;
            }
            if *p > self.last {
                self.valid = false;
                return;
            }
        }
        if bad {
            self.valid = false;
            return;
        }
        if snapshot {
            self.bids.clear();
            self.asks.clear();
            self.valid = true;
            self.seen_snapshot = true;
        }
        for &(px, q, s) in levels {
            let t = (px / tick).round() as i64;
            let side = if s == 1 {
                &mut self.bids
            } else {
                &mut self.asks
            };
            if q == 0.0 {
                side.remove(&t);
            } else {
                side.insert(t, q);
            }
        }
        self.last = *u;
        if let (Some(b), Some(a)) = (self.bids.keys().next_back(), self.asks.keys().next()) {
            if b >= a {
                self.valid = false;
            }
        }
    }
}

fn level() -> impl Strategy<Value = (f64, f64, i8)> {
    let price = prop_oneof![
        8 => (1900i64..2100).prop_map(|t| t as f64 * 0.5),
        1 => (1i64..4_000_000).prop_map(|t| t as f64 * 0.5), // outliers beyond the window
        1 => Just(-1.0),
        1 => Just(f64::NAN),
    ];
    let qty = prop_oneof![4 => (1u32..50).prop_map(f64::from), 2 => Just(0.0), 1 => Just(-2.0)];
    let side = prop_oneof![10 => Just(1i8), 10 => Just(-1i8), 1 => Just(0i8)];
    (price, qty, side)
}

fn stream() -> impl Strategy<Value = Vec<Msg>> {
    let msg = (
        0i64..4,
        0i64..3,
        prop::bool::weighted(0.08),
        prop::collection::vec(level(), 0..12),
    );
    prop::collection::vec(msg, 1..60).prop_map(|raw| {
        let mut id = 100;
        raw.into_iter()
            .map(|(step, back, snap, levels)| {
                id += step; // step 0 = duplicate id; the `back` offset makes gaps
                let prev = if snap { 0 } else { id - back };
                (id, prev, snap, levels)
            })
            .collect()
    })
}

fn side_levels(book: &OrderBook, n: usize) -> (TickLevels, TickLevels) {
    let tick = |(p, q): Level| (((p / book.tick_size()).round()) as i64, q);
    let (b, a) = book.depth(n);
    (
        b.into_iter().map(tick).collect(),
        a.into_iter().map(tick).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn book_equals_model_after_every_message(msgs in stream()) {
        let mut book = OrderBook::new(0.5).unwrap();
        let mut model = Model::default();
        for m in &msgs {
            book.apply_rows(&rows_of(std::slice::from_ref(m)).as_rows()).unwrap();
            model.apply(m, 0.5);
            let (b, a) = side_levels(&book, usize::MAX);
            let mb: Vec<_> = model.bids.iter().rev().map(|(t, q)| (*t, *q)).collect();
            let ma: Vec<_> = model.asks.iter().map(|(t, q)| (*t, *q)).collect();
            prop_assert_eq!(b, mb);
            prop_assert_eq!(a, ma);
            prop_assert_eq!(book.is_valid(), model.valid);
            prop_assert_eq!(book.last_update_id(), model.last);
        }
    }

    #[test]
    fn replay_equals_streaming(msgs in stream(), depth in 1usize..6) {
        let rows = rows_of(&msgs);
        let top = replay_top_levels(&rows.as_rows(), 0.5, depth).unwrap();
        let mut book = OrderBook::new(0.5).unwrap();
        for (k, m) in msgs.iter().enumerate() {
            book.apply_rows(&rows_of(std::slice::from_ref(m)).as_rows()).unwrap();
            let (b, a) = book.depth(depth);
            let r = k * depth..(k + 1) * depth;
            let pad = |v: Vec<Level>| {
                let mut px = vec![f64::NAN; depth];
                let mut q = vec![f64::NAN; depth];
                for (i, (p, x)) in v.into_iter().enumerate() { px[i] = p; q[i] = x; }
                (px, q)
            };
            let same = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
            let (bp, bq) = pad(b);
            let (ap, aq) = pad(a);
            prop_assert!(same(&top.bid_px[r.clone()], &bp) && same(&top.bid_qty[r.clone()], &bq));
            prop_assert!(same(&top.ask_px[r.clone()], &ap) && same(&top.ask_qty[r], &aq));
            prop_assert_eq!(top.valid[k], book.is_valid());
            prop_assert_eq!(top.update_id[k], m.0);
        }
    }
}
