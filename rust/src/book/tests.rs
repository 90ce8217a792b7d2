use super::*;

/// A test message: (update_id, prev_update_id, snapshot, [(price, qty, side)]).
pub(super) type Msg = (i64, i64, bool, Vec<(f64, f64, i8)>);

/// Build rows for a list of messages: (update_id, prev_update_id, snapshot, levels).
pub(super) fn rows_of(msgs: &[Msg]) -> RowBuffer {
    let mut b = RowBuffer::default();
    for (i, (u, p, snap, levels)) in msgs.iter().enumerate() {
        let start = b.len();
        for &(px, q, s) in levels {
            b.push_level(px, q, s);
        }
        let fields = MessageFields {
            exch_ts: i as i64,
            local_ts: i as i64 + 1,
            update_id: *u,
            prev_update_id: *p,
            seq: 0,
            snapshot: *snap,
        };
        b.finish_message(start, &fields);
    }
    b
}

fn book_after(msgs: &[Msg]) -> OrderBook {
    let mut book = OrderBook::new(0.5).unwrap();
    book.apply_rows(&rows_of(msgs).as_rows()).unwrap();
    book
}

fn snap(u: i64) -> Msg {
    (
        u,
        0,
        true,
        vec![
            (100.0, 1.0, 1),
            (99.5, 2.0, 1),
            (101.0, 3.0, -1),
            (102.0, 4.0, -1),
        ],
    )
}

#[test]
fn snapshot_then_delta() {
    let book = book_after(&[
        snap(10),
        (
            11,
            10,
            false,
            vec![(100.0, 0.0, 1), (100.5, 5.0, 1), (102.0, 1.0, -1)],
        ),
    ]);
    assert!(book.is_valid());
    assert_eq!(book.last_update_id(), 11);
    assert_eq!(book.best_bid(), Some((100.5, 5.0)));
    assert_eq!(
        book.depth(5),
        (
            vec![(100.5, 5.0), (99.5, 2.0)],
            vec![(101.0, 3.0), (102.0, 1.0)]
        )
    );
    let c = book.counters();
    assert_eq!((c.snapshots, c.deltas_applied, c.level_updates), (1, 1, 7));
    assert_eq!(book.mid(), Some(100.75));
    assert_eq!(book.spread(), Some(0.5));
    let micro = (100.5 * 3.0 + 101.0 * 5.0) / 8.0;
    assert_eq!(book.microprice(), Some(micro));
}

#[test]
fn delta_before_snapshot_is_skipped() {
    let book = book_after(&[(5, 4, false, vec![(1.0, 1.0, 1)])]);
    assert!(!book.is_valid());
    assert_eq!(book.counters().deltas_before_snapshot, 1);
    assert_eq!(book.best_bid(), None);
}

#[test]
fn gap_invalidates_until_next_snapshot() {
    let book = book_after(&[
        snap(10),
        (12, 11, false, vec![(100.0, 9.0, 1)]),
        (13, 12, false, vec![(100.0, 9.0, 1)]),
        snap(20),
        (21, 20, false, vec![(100.0, 7.0, 1)]),
    ]);
    let c = book.counters();
    assert_eq!(
        (
            c.gaps,
            c.skipped_while_invalid,
            c.snapshots,
            c.deltas_applied
        ),
        (1, 1, 2, 1)
    );
    assert!(book.is_valid());
    assert_eq!(book.best_bid(), Some((100.0, 7.0)));
}

#[test]
fn stale_and_duplicate_ids_are_skipped() {
    let book = book_after(&[
        snap(10),
        (11, 10, false, vec![(100.0, 9.0, 1)]),
        (11, 10, false, vec![(100.0, 8.0, 1)]),
        (9, 8, false, vec![(100.0, 7.0, 1)]),
    ]);
    assert_eq!(book.counters().stale, 2);
    assert!(book.is_valid());
    assert_eq!(book.best_bid(), Some((100.0, 9.0)));
}

#[test]
fn binance_bridging_rule() {
    // Snapshot at 100; an event covering (95, 105] bridges it, the next continues from 105.
    let book = book_after(&[
        (100, 0, true, vec![(10.0, 1.0, 1), (11.0, 1.0, -1)]),
        (99, 90, false, vec![(10.0, 5.0, 1)]),
        (105, 95, false, vec![(10.0, 2.0, 1)]),
        (110, 105, false, vec![(10.0, 3.0, 1)]),
    ]);
    let c = book.counters();
    assert_eq!((c.stale, c.deltas_applied, c.gaps), (1, 2, 0));
    assert_eq!(book.best_bid(), Some((10.0, 3.0)));
}

#[test]
fn crossed_book_is_invalid_until_snapshot() {
    let book = book_after(&[snap(10), (11, 10, false, vec![(101.0, 1.0, 1)])]);
    assert_eq!(book.counters().crossed, 1);
    assert!(!book.is_valid());
    let book = book_after(&[snap(10), (11, 10, false, vec![(101.0, 1.0, 1)]), snap(30)]);
    assert!(book.is_valid());
}

#[test]
fn bad_levels_reject_the_whole_message() {
    for bad in [
        (100.0, -1.0, 1),
        (f64::NAN, 1.0, 1),
        (100.0, f64::INFINITY, 1),
        (0.0, 1.0, 1),
        (-5.0, 1.0, -1),
        (100.0, 1.0, 0),
        (1e300, 1.0, 1),
    ] {
        let book = book_after(&[snap(10), (11, 10, false, vec![(99.5, 0.0, 1), bad])]);
        assert_eq!(book.counters().bad_messages, 1, "{bad:?}");
        assert!(!book.is_valid());
        assert_eq!(
            book.depth(5).0,
            vec![(100.0, 1.0), (99.5, 2.0)],
            "nothing applied"
        );
        assert_eq!(book.last_update_id(), 10);
    }
}

#[test]
fn update_id_one_is_a_resnapshot() {
    let book = book_after(&[
        snap(10),
        (1, 0, false, vec![(50.0, 1.0, 1), (51.0, 1.0, -1)]),
        (2, 1, false, vec![(50.5, 1.0, 1)]),
    ]);
    assert_eq!(book.counters().snapshots, 2);
    assert_eq!(
        book.depth(5),
        (vec![(50.5, 1.0), (50.0, 1.0)], vec![(51.0, 1.0)])
    );
}

#[test]
fn empty_delta_advances_ids() {
    let book = book_after(&[snap(10), (11, 10, false, vec![]), (12, 11, false, vec![])]);
    assert_eq!(book.last_update_id(), 12);
    assert_eq!(book.counters().deltas_applied, 2);
    assert_eq!(book.counters().level_updates, 4);
}

#[test]
fn walking_the_book() {
    let book = book_after(&[snap(10)]);
    let buy = book.cost_to_buy(5.0).unwrap();
    assert_eq!(buy.filled_qty, 5.0);
    assert_eq!(buy.notional, 3.0 * 101.0 + 2.0 * 102.0);
    assert_eq!(buy.avg_price, buy.notional / 5.0);
    let sell = book.cost_to_sell(10.0).unwrap();
    assert_eq!(sell.filled_qty, 3.0); // partial: the book is thin
    assert_eq!(sell.notional, 100.0 + 2.0 * 99.5);
    assert!(book.cost_to_buy(0.0).is_err());
    assert!(book.cost_to_buy(f64::NAN).is_err());
    let empty = OrderBook::new(1.0).unwrap();
    assert!(empty.cost_to_buy(1.0).unwrap().avg_price.is_nan());
}

#[test]
fn outlier_prices_are_kept_exactly() {
    let book = book_after(&[
        (
            10,
            0,
            true,
            vec![
                (100.0, 1.0, 1),
                (0.5, 7.0, 1),
                (101.0, 1.0, -1),
                (5e9, 2.0, -1),
            ],
        ),
        (11, 10, false, vec![(100.0, 0.0, 1)]),
    ]);
    assert_eq!(book.best_bid(), Some((0.5, 7.0)));
    assert_eq!(book.depth(3).1, vec![(101.0, 1.0), (5e9, 2.0)]);
}

#[test]
fn bad_tick_size_is_refused() {
    assert!(OrderBook::new(0.0).is_err());
    assert!(OrderBook::new(f64::NAN).is_err());
}

#[test]
fn replay_matches_streaming_queries() {
    let msgs = [
        snap(10),
        (11, 10, false, vec![(100.0, 0.0, 1)]),
        (13, 12, false, vec![]),
        snap(20),
    ];
    let rows = rows_of(&msgs);
    let top = replay_top_levels(&rows.as_rows(), 0.5, 3).unwrap();
    assert_eq!(top.len(), 4);
    assert_eq!(top.valid, vec![true, true, false, true]);
    assert_eq!(top.local_ts, vec![1, 2, 3, 4]);
    assert_eq!(top.bid_px[3], 99.5);
    assert_eq!(top.ask_qty[3..5], [3.0, 4.0]);
    assert!(top.bid_px[4].is_nan());
    assert!(replay_top_levels(&rows.as_rows(), 0.5, 0).is_err());
}

#[test]
fn apply_json_parses_and_applies() {
    let snap = br#"{"topic":"orderbook.1.X","type":"snapshot","ts":1,"data":{"b":[["1.5","2"]],"a":[["2.0","1"]],"u":5}}"#;
    let delta = br#"{"topic":"orderbook.1.X","type":"delta","ts":2,"data":{"b":[["1.5","0"]],"a":[],"u":6}}"#;
    let mut book = OrderBook::new(0.5).unwrap();
    let bad = book
        .apply_json(&[snap, b"{oops", delta], BookFormat::Bybit, None)
        .unwrap();
    assert_eq!(bad, 1);
    assert_eq!(book.best_bid(), None);
    assert_eq!(book.best_ask(), Some((2.0, 1.0)));
    assert_eq!(book.last_update_id(), 6);
}

#[test]
fn prices_print_as_the_venue_decimal() {
    let mut book = OrderBook::new(0.0001).unwrap();
    let rows = rows_of(&[(5, 0, true, vec![(1.9538, 1.0, -1), (1.9531, 2.0, 1)])]);
    book.apply_rows(&rows.as_rows()).unwrap();
    assert_eq!(book.best_ask(), Some((1.9538, 1.0)));
    assert_eq!(book.best_bid(), Some((1.9531, 2.0)));
    let odd = OrderBook::new(0.3).unwrap();
    assert_eq!(odd.price(10), 10.0 * 0.3);
}
