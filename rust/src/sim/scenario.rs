//! Named scenarios: complete configurations for the markets strategies are scored against.
//!
//! - `calm`: the default market (2 % daily vol, rare jumps, deep maker ladders);
//! - `volatile`: 3× the volatility, frequent larger jumps, makers more risk-averse;
//! - `toxic`: three times the informed traders, who see further ahead and trade bigger;
//! - `thin`: a shallow book (a quarter of the maker size over 4 levels, more market orders,
//!   noise limit orders resting half as long);
//! - `rmsc04`: ABIDES's RMSC04 population (2 makers, 100 informed/value, 12 momentum,
//!   1,000 noise, no HFTs) over a 6.5-hour trading day.

use super::config::SimConfig;
use crate::error::{CoreError, CoreResult};

pub const SCENARIOS: [&str; 5] = ["calm", "volatile", "toxic", "thin", "rmsc04"];

/// The configuration of a named scenario.
pub fn scenario(name: &str) -> CoreResult<SimConfig> {
    let mut c = SimConfig::default();
    match name {
        "calm" => {}
        "volatile" => {
            c.process.vol_per_day *= 3.0;
            c.process.jump_rate_per_hour = 4.0;
            c.process.jump_std = 0.003;
            c.agents.market_maker.gamma *= 2.0;
            c.agents.noise.rate *= 1.5;
        }
        "toxic" => {
            let i = &mut c.agents.informed;
            i.count *= 3;
            i.horizon_s *= 2.0;
            i.size_lots *= 2;
            i.max_size_lots *= 2;
        }
        "thin" => {
            let mm = &mut c.agents.market_maker;
            mm.size_lots /= 4;
            mm.levels = 4;
            c.agents.noise.market_prob = 0.4;
            c.agents.noise.lifetime_s /= 2.0;
        }
        "rmsc04" => {
            c.duration_s = 6.5 * 3600.0;
            c.agents.hft.count = 0;
            c.agents.informed.count = 100;
            c.agents.momentum.count = 12;
            c.agents.noise.count = 1_000;
            c.agents.market_maker.count = 2;
        }
        _ => {
            return Err(CoreError::InvalidInput(format!(
                "unknown scenario {name:?}; known: {}",
                SCENARIOS.join(", ")
            )))
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_valid_and_distinct() {
        let all: Vec<_> = SCENARIOS.iter().map(|n| scenario(n).unwrap()).collect();
        for c in &all {
            c.validate().unwrap();
        }
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "{} == {}", SCENARIOS[i], SCENARIOS[j]);
            }
        }
        assert!(scenario("nope").unwrap_err().to_string().contains("calm"));
    }
}
