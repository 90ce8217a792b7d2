//! Whole runs: determinism, conservation, the strategy's exact ledger, config errors.

use super::*;
use crate::expr::compile;
use crate::sim::agents::AgentKind;

fn short(seed: u64) -> SimConfig {
    let mut c = SimConfig {
        duration_s: 120.0,
        seed,
        ..SimConfig::default()
    };
    c.agents.noise.count = 200;
    c.agents.informed.count = 20;
    c
}

/// A program reading one feature column: the target is `col` itself.
fn column_program(col: usize) -> Program {
    compile(&[0], &[col as i64], &[0.0], &[0.0], FEATURE_COUNT).unwrap()
}

/// A program with a constant target.
fn constant_program(x: f64) -> Program {
    compile(&[1], &[0], &[x], &[0.0], FEATURE_COUNT).unwrap()
}

const FEATURE_COUNT: usize = crate::sim::agents::FEATURE_COLUMNS.len();

#[test]
fn same_seed_same_stream_other_seed_other_stream() {
    let a = run(&short(7), None).unwrap();
    let b = run(&short(7), None).unwrap();
    let c = run(&short(8), None).unwrap();
    assert!(a.stats.messages() > 1_000, "{:?}", a.stats);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.events.ts, b.events.ts);
    assert_eq!(a.events.order, b.events.order);
    assert_eq!(a.events.price, b.events.price);
    assert_eq!(a.trades.price, b.trades.price);
    assert_eq!(a.trades.maker_agent, b.trades.maker_agent);
    assert_eq!(a.mids.mid, b.mids.mid);
    assert_ne!(a.trades.price, c.trades.price);
    assert_ne!(a.mids.fundamental, c.mids.fundamental);
}

#[test]
fn positions_and_cash_are_conserved() {
    let out = run(&short(3), None).unwrap();
    assert_eq!(out.agents.position.iter().sum::<i64>(), 0);
    let cash: f64 = out.agents.cash.iter().sum();
    let notional: f64 = out.agents.cash.iter().map(|c| c.abs()).sum();
    assert!(
        cash.abs() <= 1e-9 * notional.max(1.0),
        "{cash} of {notional}"
    );
    let traded: i64 = out.trades.qty.iter().sum();
    assert_eq!(out.agents.volume.iter().sum::<i64>(), 2 * traded);
    let fees: f64 = out.agents.fees.iter().sum();
    let want: f64 = out
        .trades
        .maker_fee
        .iter()
        .chain(&out.trades.taker_fee)
        .sum();
    assert!((fees - want).abs() < 1e-6, "{fees} vs {want}");
    // The market makers keep a two-sided book most of the time.
    let two_sided = (0..out.top.ts.len())
        .filter(|&i| out.top.bid_qty[i] > 0 && out.top.ask_qty[i] > 0)
        .count();
    assert!(two_sided * 10 >= out.top.ts.len() * 9, "{two_sided}");
}

#[test]
fn strategy_ledger_matches_the_exchange() {
    let out = run(&short(5), Some(column_program(2))).unwrap();
    let rec = out.strategy.expect("a strategy ran");
    let id = out.agents.kind.len() - 1;
    assert_eq!(out.agents.kind[id], AgentKind::Strategy.code());
    assert!(rec.fills > 10, "{rec:?}");
    // Every fill was delivered: the agent's position and cash equal the exchange's.
    let pos = *rec.position.last().unwrap();
    assert_eq!(pos, out.agents.position[id]);
    assert!((rec.cash.last().unwrap() - out.agents.cash[id]).abs() < 1e-6);
    assert!((rec.fees.last().unwrap() - out.agents.fees[id]).abs() < 1e-9);
    assert_eq!(rec.traded_lots, out.agents.volume[id]);
    let targets = rec.target.iter().filter(|t| **t != 0.0).count();
    assert!(targets > 0);
}

#[test]
fn idle_strategy_changes_nothing_else_in_the_market() {
    let without = run(&short(9), None).unwrap();
    let idle = run(&short(9), Some(constant_program(0.0))).unwrap();
    assert_eq!(without.trades.price, idle.trades.price);
    assert_eq!(idle.strategy.unwrap().fills, 0);
}

#[test]
fn bad_config_and_programs_are_errors() {
    let mut c = short(1);
    c.agents.noise.rate = -1.0;
    let err = run(&c, None).unwrap_err().to_string();
    assert!(err.contains("agents.noise.rate must be >= 0"), "{err}");
    let mut c = short(1);
    c.market.tick_size = 0.0;
    assert!(run(&c, None)
        .unwrap_err()
        .to_string()
        .contains("market.tick_size"));
    let mut c = short(1);
    c.sampling.top_interval_s = 1e-9;
    assert!(run(&c, None)
        .unwrap_err()
        .to_string()
        .contains("sampling.top_interval_s"));
    let wrong = compile(&[1], &[0], &[1.0], &[0.0], 3).unwrap();
    let err = run(&short(1), Some(wrong)).unwrap_err().to_string();
    assert!(err.contains("strategy program reads 3 columns"), "{err}");
}

#[test]
fn config_json_rejects_unknown_keys() {
    let err = serde_json::from_str::<SimConfig>(r#"{"agents": {"whale": {}}}"#).unwrap_err();
    assert!(err.to_string().contains("whale"), "{err}");
    let full = serde_json::to_string(&SimConfig::default()).unwrap();
    let back: SimConfig = serde_json::from_str(&full).unwrap();
    assert_eq!(back, SimConfig::default());
}

#[test]
fn informed_meta_orders_are_worked_in_children() {
    let mut c = short(6);
    c.agents.informed.child_lots = 30;
    c.agents.informed.child_interval_s = 0.5;
    c.agents.informed.threshold_bps = 2.0;
    let out = run(&c, None).unwrap();
    let informed = |a: u32| out.agents.kind[a as usize] == AgentKind::Informed.code();
    let sizes: Vec<i64> = (0..out.trades.ts.len())
        .filter(|&i| informed(out.trades.taker_agent[i]))
        .map(|i| out.trades.qty[i])
        .collect();
    assert!(sizes.len() > 50, "{}", sizes.len());
    assert!(sizes.iter().all(|&q| q <= 30));
    // Whole orders, for contrast, are bigger than a child.
    c.agents.informed.child_lots = 0;
    let whole = run(&c, None).unwrap();
    let biggest = (0..whole.trades.ts.len())
        .filter(|&i| {
            whole.agents.kind[whole.trades.taker_agent[i] as usize] == AgentKind::Informed.code()
        })
        .map(|i| whole.trades.qty[i])
        .max()
        .unwrap();
    assert!(biggest > 30);
}
