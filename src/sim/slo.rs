//! The SLO the simulated service is held to, and its measurement: the service's error ratio over
//! the SLO window and each burn window, from the history and, before it, the scenario's past.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::slo::{BURN_WINDOWS, SloDef, SloMeasurement};

use super::history::History;
use super::scenario::Scenario;

/// The SLO the simulator's service is held to.
pub fn slo() -> SloDef {
    SloDef {
        name: "availability".into(),
        objective_pct: 99.95,
        window: Duration::from_secs(30 * 86_400),
        recorded: Vec::new(),
    }
}

/// Service error ratios over the SLO window and each burn window; what the simulator did not
/// run itself (at `service_rps`) is filled from the scenario's prior history.
pub(super) fn measurement(
    history: &History,
    scenario: Scenario,
    service_rps: f64,
    now: DateTime<Utc>,
) -> SloMeasurement {
    let slo = slo();
    let prior_ratio = scenario.prior_error_ratio();
    let ratio_over = |window: Duration, prior: f64| -> f64 {
        let since = now - chrono::Duration::from_std(window).unwrap_or_default();
        let (req, err, secs) = history.service_since(since);
        let prior_req = service_rps * window.as_secs().saturating_sub(secs) as f64;
        (err as f64 + prior * prior_req) / (req as f64 + prior_req).max(1.0)
    };
    // The 30-day ratio that leaves the scenario's share of the budget spent.
    let prior_30d = scenario.prior_budget_spent() * slo.allowed_error_ratio();
    SloMeasurement {
        error_ratio: Some(ratio_over(slo.window, prior_30d)),
        window_ratios: BURN_WINDOWS
            .iter()
            .map(|(label, w)| (label.to_string(), Some(ratio_over(*w, prior_ratio))))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Scenario;
    use crate::sim::test_support::*;

    #[test]
    fn slow_burn_passes_gates_but_burns_budget() {
        let mut s = sim(Scenario::SlowBurn, 5);
        s.advance_to(now() + chrono::Duration::seconds(40));
        let status = slo().evaluate(&s.slo_measurement(now() + chrono::Duration::seconds(40)));
        let left = status.budget_remaining.expect("budget");
        assert!((0.10..0.13).contains(&left), "budget left {left}");
        assert!(status.burn("3d").is_some_and(|b| b > 1.0));
        assert_eq!(status.alert, Some(crate::domain::slo::Alert::Ticket));
        let healthy = slo().evaluate(&sim(Scenario::Healthy, 5).slo_measurement(now()));
        assert!(
            healthy.burn("5m").is_some_and(|b| b < 1.0),
            "{:?}",
            healthy.burn_rates
        );
    }
}
