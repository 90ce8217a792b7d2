//! Hand-computable cases with closed-form PnL, the equity identity, limits and bad input.

use super::*;
use crate::costs::CostModel;

fn cfg(taker_fee: f64, latency: usize) -> BacktestConfig {
    BacktestConfig {
        rules: InstrumentRules {
            tick_size: 0.0,
            qty_step: 0.0,
            min_qty: 0.0,
        },
        costs: CostModel {
            taker_fee,
            maker_fee: 0.0,
            ..CostModel::default()
        },
        half_spread_bps: 0.0,
        initial_capital: 1000.0,
        max_contracts: f64::INFINITY,
        max_notional: f64::INFINITY,
        latency,
    }
}

/// The research backtest's settings in tests: 0.01 tick, no lot rules, the default costs,
/// 0.5 bp half-spread, 10,000 capital, no limits, no latency (tests change what they need).
pub(super) fn research_config() -> BacktestConfig {
    BacktestConfig {
        rules: InstrumentRules {
            tick_size: 0.01,
            qty_step: 0.0,
            min_qty: 0.0,
        },
        costs: CostModel::default(),
        half_spread_bps: 0.5,
        initial_capital: 10_000.0,
        max_contracts: f64::INFINITY,
        max_notional: f64::INFINITY,
        latency: 0,
    }
}

pub(super) fn market(close: &[f64]) -> Market<'_> {
    Market {
        close,
        bid: None,
        ask: None,
        funding: None,
        sigma: None,
        volume: None,
        depth: None,
    }
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

const NAN: f64 = f64::NAN;

#[test]
fn one_trade_pnl_is_closed_form() {
    let close = [100.0, 100.0, 110.0, 121.0];
    let out = run(&[1.0, NAN, NAN, NAN], &market(&close), &cfg(0.0, 1)).unwrap();
    // Buys 1000/100 = 10 contracts at bar 1, then holds.
    assert_eq!(out.position, vec![0.0, 10.0, 10.0, 10.0]);
    assert_eq!(out.equity, vec![1000.0, 1000.0, 1100.0, 1210.0]);
}

#[test]
fn round_trip_with_fee_only() {
    let close = [100.0, 100.0, 120.0, 120.0];
    let fee = 0.001;
    let out = run(&[1.0, 0.0, NAN, NAN], &market(&close), &cfg(fee, 1)).unwrap();
    let q = 1000.0 / 100.0 * (1.0 - 0.0); // sized on equity before the fee
    let expected = 1000.0 + q * 20.0 - fee * q * 100.0 - fee * q * 120.0;
    assert!(close_to(*out.equity.last().unwrap(), expected));
    assert_eq!(out.position[3], 0.0);
    let m = compute_metrics(&out, 1000.0, 365.0).unwrap();
    assert_eq!(m.round_trips, 1.0);
    assert_eq!(m.hit_rate, 1.0);
    assert_eq!(m.avg_holding_bars, 1.0);
    assert!(close_to(m.fees_paid, fee * q * 220.0));
    assert!(close_to(m.total_return, expected / 1000.0 - 1.0));
}

#[test]
fn flat_prices_lose_exactly_the_fees_and_spread() {
    let close = [50.0; 4];
    let mut c = cfg(0.00055, 0);
    c.half_spread_bps = 2.0;
    let out = run(&[0.5, -0.5, 0.0, NAN], &market(&close), &c).unwrap();
    let m = compute_metrics(&out, 1000.0, 365.0).unwrap();
    assert!(close_to(
        *out.equity.last().unwrap(),
        1000.0 - m.fees_paid - m.spread_paid
    ));
    assert!(m.spread_paid > 0.0 && m.fees_paid > 0.0);
    assert_eq!(m.round_trips, 2.0);
    assert_eq!(m.hit_rate, 0.0);
}

#[test]
fn funding_is_charged_on_held_notional() {
    let close = [100.0, 100.0, 100.0];
    let funding = [0.0, 0.0, 0.001];
    let m = Market {
        funding: Some(&funding),
        ..market(&close)
    };
    let out = run(&[1.0, NAN, NAN], &m, &cfg(0.0, 1)).unwrap();
    assert!(close_to(out.funding[2], 10.0 * 100.0 * 0.001));
    assert!(close_to(out.equity[2], 1000.0 - 1.0));
    // A short receives it.
    let short = run(&[-1.0, NAN, NAN], &m, &cfg(0.0, 1)).unwrap();
    assert!(close_to(short.equity[2], 1001.0));
}

#[test]
fn lots_and_ticks_round_against_the_trader() {
    let close = [33.0, 33.0];
    let mut c = cfg(0.0, 1);
    c.rules = InstrumentRules {
        tick_size: 0.5,
        qty_step: 0.1,
        min_qty: 0.1,
    };
    c.half_spread_bps = 10.0; // 33 * 1.001 = 33.033 -> 33.5 for a buy
    let out = run(&[1.0, NAN], &market(&close), &c).unwrap();
    assert!(close_to(out.traded_qty[1], 30.3)); // 1000 / 33 = 30.303...
    assert!(close_to(out.fill_price[1], 33.5));
    assert!(close_to(out.spread_cost[1], 30.3 * 0.5));
    assert!(close_to(qty_toward_zero(0.3, 0.1), 0.3));
    assert!(close_to(qty_toward_zero(-0.29, 0.1), -0.2));
    assert!(close_to(price_to_tick(33.033, 0.5, false), 33.0));
}

#[test]
fn min_qty_skips_small_orders() {
    let mut c = cfg(0.0, 0);
    c.rules.min_qty = 20.0;
    let out = run(&[1.0], &market(&[100.0]), &c).unwrap();
    assert_eq!(out.traded_qty[0], 0.0);
    assert!(out.fill_price[0].is_nan());
}

#[test]
fn position_limits_cap_contracts_and_notional() {
    let close = [100.0, 100.0];
    let mut c = cfg(0.0, 0);
    c.max_contracts = 3.0;
    assert_eq!(
        run(&[1.0, -1.0], &market(&close), &c).unwrap().position,
        vec![3.0, -3.0]
    );
    c.max_contracts = f64::INFINITY;
    c.max_notional = 250.0;
    assert_eq!(
        run(&[1.0, 1.0], &market(&close), &c).unwrap().position,
        vec![2.5, 2.5]
    );
}

#[test]
fn bid_ask_set_fill_prices() {
    let close = [100.0, 100.0];
    let (bid, ask) = ([99.0, 99.0], [101.0, 101.0]);
    let m = Market {
        bid: Some(&bid),
        ask: Some(&ask),
        ..market(&close)
    };
    let out = run(&[0.5, -0.5], &m, &cfg(0.0, 0)).unwrap();
    assert_eq!(out.fill_price, vec![101.0, 99.0]);
    assert!(close_to(out.spread_cost[0], 5.0));
}

#[test]
fn zero_position_costs_nothing() {
    let close = [100.0, 90.0, 120.0];
    let funding = [0.01, 0.02, -0.01];
    let m = Market {
        funding: Some(&funding),
        ..market(&close)
    };
    let out = run(&[0.0, NAN, 0.0], &m, &cfg(0.01, 1)).unwrap();
    assert!(out.equity.iter().all(|e| *e == 1000.0));
    assert!(out.fees.iter().chain(&out.funding).all(|x| *x == 0.0));
}

#[test]
fn latency_shifts_fills() {
    let close = [100.0, 100.0, 100.0, 100.0];
    for latency in 0..3 {
        let out = run(&[1.0, NAN, NAN, NAN], &market(&close), &cfg(0.0, latency)).unwrap();
        let first = out.traded_qty.iter().position(|q| *q != 0.0);
        assert_eq!(first, Some(latency));
    }
}

#[test]
fn equity_identity_holds_every_bar() {
    let close: Vec<f64> = (0..200)
        .map(|i| 100.0 + (i as f64 * 0.37).sin() * 5.0)
        .collect();
    let funding: Vec<f64> = (0..200)
        .map(|i| if i % 16 == 0 { 1e-4 } else { 0.0 })
        .collect();
    let target: Vec<f64> = (0..200).map(|i| (i as f64 * 0.11).cos()).collect();
    let m = Market {
        funding: Some(&funding),
        ..market(&close)
    };
    let out = run(&target, &m, &cfg(0.00055, 1)).unwrap();
    for (t, p) in close.iter().enumerate() {
        assert!(close_to(out.equity[t], out.cash[t] + out.position[t] * p));
    }
}

#[test]
fn bad_input_is_an_error() {
    let c = cfg(0.0, 1);
    assert!(run(&[], &market(&[]), &c).is_err());
    assert!(run(&[1.0], &market(&[1.0, 2.0]), &c).is_err());
    assert!(run(&[f64::INFINITY], &market(&[1.0]), &c).is_err());
    assert!(run(&[1.5], &market(&[1.0]), &c).is_err());
    assert!(run(&[1.0], &market(&[NAN]), &c).is_err());
    let bid = [2.0];
    assert!(run(
        &[1.0],
        &Market {
            bid: Some(&bid),
            ..market(&[1.0])
        },
        &c
    )
    .is_err());
    let mut neg = c;
    neg.costs.taker_fee = -1.0;
    assert!(run(&[1.0], &market(&[1.0]), &neg).is_err());
}

#[test]
fn batch_matches_single_runs_for_any_thread_count() {
    let close: Vec<f64> = (0..300).map(|i| 50.0 + (i as f64 * 0.2).sin()).collect();
    let targets: Vec<f64> = (0..5 * 300)
        .map(|k| ((k as f64) * 0.013 * (1 + k / 300) as f64).sin())
        .collect();
    let c = cfg(0.00055, 1);
    let m = market(&close);
    let one = run_batch(&targets, 5, &m, &c, 1e4, 1).unwrap();
    for threads in [2, 3, 8] {
        assert_eq!(
            run_batch(&targets, 5, &m, &c, 1e4, threads).unwrap().len(),
            5
        );
        let many = run_batch(&targets, 5, &m, &c, 1e4, threads).unwrap();
        for (a, b) in one.iter().zip(&many) {
            assert_eq!(
                a.to_array().map(f64::to_bits),
                b.to_array().map(f64::to_bits)
            );
        }
    }
    let single = run(&targets[600..900], &m, &c).unwrap();
    let expected = compute_metrics(&single, 1000.0, 1e4).unwrap();
    assert_eq!(
        one[2].to_array().map(f64::to_bits),
        expected.to_array().map(f64::to_bits)
    );
    assert!(run_batch(&targets, 4, &m, &c, 1e4, 2).is_err());
}

#[test]
fn fills_pay_the_taker_fee_only() {
    let close = [100.0, 100.0];
    let mut c = cfg(0.001, 0);
    c.costs.maker_fee = 0.009; // never used: every fill is a taker market order
    let out = run(&[0.5, NAN], &market(&close), &c).unwrap();
    assert!(close_to(out.fees[0], 5.0 * 100.0 * 0.001));
    assert_eq!(out.spread_cost[0], 0.0);
    assert!(close_to(out.equity[0], 1000.0 - 0.5));
}

#[test]
fn large_order_walks_two_levels() {
    let close = [100.0];
    // One bar, two levels per side: 4 @ 100.1 then 10 @ 100.3 on the ask.
    let (bp, bq) = ([99.9, 99.7], [4.0, 10.0]);
    let (ap, aq) = ([100.1, 100.3], [4.0, 10.0]);
    let m = Market {
        depth: Some(BookLevels {
            levels: 2,
            bid_px: &bp,
            bid_qty: &bq,
            ask_px: &ap,
            ask_qty: &aq,
        }),
        ..market(&close)
    };
    let mut c = cfg(0.0, 0);
    c.rules.qty_step = 1.0;
    let out = run(&[0.6], &m, &c).unwrap(); // 600 / 100 = 6 contracts
    let avg = (4.0 * 100.1 + 2.0 * 100.3) / 6.0;
    assert_eq!(out.traded_qty[0], 6.0);
    assert!(close_to(out.fill_price[0], avg));
    assert!(close_to(out.spread_cost[0], 6.0 * 0.1));
    assert!(close_to(out.slippage[0], 2.0 * 0.2));
    assert!(close_to(out.equity[0], 1000.0 - 6.0 * (avg - 100.0)));
}

fn impact_run(target: f64, eta: f64, gamma: f64) -> BarOutputs {
    let close = [100.0, 100.0, 100.0];
    let (sigma, volume) = ([0.01; 3], [1000.0; 3]);
    let m = Market {
        sigma: Some(&sigma),
        volume: Some(&volume),
        ..market(&close)
    };
    let mut c = cfg(0.0, 0);
    c.costs.impact_eta = eta;
    c.costs.impact_gamma = gamma;
    run(&[target, 0.0, NAN], &m, &c).unwrap()
}

#[test]
fn temporary_impact_scales_with_the_square_root_of_size() {
    let small = impact_run(0.1, 1.0, 0.0); // 1 contract
    let large = impact_run(0.4, 1.0, 0.0); // 4 contracts
    let unit = |q: f64| 0.01 * (q / 1000.0_f64).sqrt() * 100.0;
    assert!(close_to(small.impact[0], unit(1.0) * 1.0));
    assert!(close_to(large.impact[0], unit(4.0) * 4.0));
    // Per unit: twice the cost for four times the size.
    assert!(close_to(large.impact[0] / 4.0, 2.0 * small.impact[0]));
    assert!(close_to(large.fill_price[0], 100.0 + unit(4.0)));
    // Without sigma/volume, impact is off.
    let out = run(&[0.4, NAN, NAN], &market(&[100.0; 3]), &cfg(0.0, 0)).unwrap();
    assert_eq!(out.impact[0], 0.0);
}

#[test]
fn permanent_impact_is_carried_into_later_fills() {
    let out = impact_run(0.4, 0.0, 0.5); // buy 4, then sell 4 one bar later
    let offset = 0.5 * 0.01 * (4.0 / 1000.0) * 100.0;
    assert!(close_to(out.fill_price[0], 100.0));
    assert!(close_to(out.fill_price[1], 100.0 + offset));
    assert!(close_to(out.impact_perm[1], -4.0 * offset));
    // The sale nets the offset back; marks stay on the recorded close.
    assert!(close_to(out.equity[1], 1000.0 + 4.0 * offset));
    let m = compute_metrics(&out, 1000.0, 365.0).unwrap();
    assert!(close_to(m.total_cost, -4.0 * offset));
}
