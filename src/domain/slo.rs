//! SLOs, error budgets and multi-window burn rates (the SRE workbook's alerting conditions).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The burn-rate windows the console computes, shortest first.
pub const BURN_WINDOWS: [(&str, Duration); 7] = [
    ("5m", Duration::from_secs(300)),
    ("30m", Duration::from_secs(1800)),
    ("1h", Duration::from_secs(3600)),
    ("2h", Duration::from_secs(7200)),
    ("6h", Duration::from_secs(21_600)),
    ("1d", Duration::from_secs(86_400)),
    ("3d", Duration::from_secs(259_200)),
];

#[derive(Debug, Clone, PartialEq)]
pub struct SloDef {
    pub name: String,
    /// Percent, e.g. 99.95.
    pub objective_pct: f64,
    pub window: Duration,
    /// Recorded series to read instead of the error-ratio query, by window label (`5m` … `3d`
    /// of `BURN_WINDOWS`, and the SLO's own window, e.g. `30d`): query templates whose
    /// `$window` is that label. A window not listed is computed from the query.
    pub recorded: Vec<(String, String)>,
}

impl SloDef {
    /// The allowed error ratio, e.g. 0.0005 for 99.95%.
    pub fn allowed_error_ratio(&self) -> f64 {
        (1.0 - self.objective_pct / 100.0).max(0.0)
    }

    /// The budget as time at full outage: a 99.95% monthly SLO allows ~21.6 minutes.
    pub fn budget_time(&self) -> Duration {
        self.window.mul_f64(self.allowed_error_ratio())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    Ticket,
    Page,
}

/// Error ratios measured by a metrics source for one SLO.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloMeasurement {
    /// Over the SLO window.
    pub error_ratio: Option<f64>,
    /// Over each of `BURN_WINDOWS`, by label.
    pub window_ratios: Vec<(String, Option<f64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetStatus {
    pub error_ratio: Option<f64>,
    /// Fraction of the budget left: 1.0 = untouched, negative = overspent.
    pub budget_remaining: Option<f64>,
    pub burn_rates: Vec<(String, Option<f64>)>,
    pub time_to_exhaustion: Option<Duration>,
    pub alert: Option<Alert>,
}

/// Burn rate: how many times faster than "exactly on budget" errors are being spent.
pub fn burn_rate(error_ratio: f64, allowed_error_ratio: f64) -> f64 {
    if allowed_error_ratio <= 0.0 {
        return if error_ratio > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
    }
    error_ratio.max(0.0) / allowed_error_ratio
}

/// 1 − actual errors / allowed errors; negative when overspent (shown, not hidden).
pub fn budget_remaining(error_ratio: f64, allowed_error_ratio: f64) -> f64 {
    if allowed_error_ratio <= 0.0 {
        return if error_ratio > 0.0 {
            f64::NEG_INFINITY
        } else {
            1.0
        };
    }
    1.0 - error_ratio.max(0.0) / allowed_error_ratio
}

/// At `burn`, a full budget lasts exactly `window / burn`; what is left lasts that share of it.
pub fn time_to_exhaustion(remaining: f64, burn: f64, window: Duration) -> Option<Duration> {
    if !(burn.is_finite() && remaining.is_finite()) || burn <= 0.0 {
        return None;
    }
    if remaining <= 0.0 {
        return Some(Duration::ZERO);
    }
    let secs = remaining * window.as_secs_f64() / burn;
    (secs.is_finite() && secs < 1e12).then(|| Duration::from_secs_f64(secs))
}

/// The workbook's multi-window, multi-burn-rate conditions.
pub fn alert_for(burn: impl Fn(&str) -> Option<f64>) -> Option<Alert> {
    let both = |long: &str, short: &str, threshold: f64| matches!((burn(long), burn(short)), (Some(l), Some(s)) if l > threshold && s > threshold);
    if both("1h", "5m", 14.4) || both("6h", "30m", 6.0) {
        Some(Alert::Page)
    } else if both("1d", "2h", 3.0) || both("3d", "6h", 1.0) {
        Some(Alert::Ticket)
    } else {
        None
    }
}

impl SloDef {
    pub fn evaluate(&self, m: &SloMeasurement) -> BudgetStatus {
        let allowed = self.allowed_error_ratio();
        let clean = |v: Option<f64>| v.filter(|x| x.is_finite());
        let error_ratio = clean(m.error_ratio);
        let budget = error_ratio.map(|e| budget_remaining(e, allowed));
        let burn_rates: Vec<(String, Option<f64>)> = m
            .window_ratios
            .iter()
            .map(|(w, r)| (w.clone(), clean(*r).map(|r| burn_rate(r, allowed))))
            .collect();
        let lookup = |w: &str| {
            burn_rates
                .iter()
                .find(|(l, _)| l == w)
                .and_then(|(_, b)| *b)
        };
        // "Current" burn: the shortest window that has a value.
        let current = burn_rates.iter().find_map(|(_, b)| *b);
        let tte = match (budget, current) {
            (Some(rem), Some(burn)) => time_to_exhaustion(rem, burn, self.window),
            _ => None,
        };
        BudgetStatus {
            error_ratio,
            budget_remaining: budget,
            burn_rates: burn_rates.clone(),
            time_to_exhaustion: tte,
            alert: alert_for(lookup),
        }
    }
}

/// When the budget runs out at the current burn. No data is never good news: `Unknown`, not
/// "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhaustion {
    /// No budget or no burn rate measured.
    Unknown,
    /// Nothing is burning: the budget does not shrink.
    Never,
    /// Already spent.
    Empty,
    In(Duration),
}

impl BudgetStatus {
    pub fn burn(&self, window: &str) -> Option<f64> {
        self.burn_rates
            .iter()
            .find(|(l, _)| l == window)
            .and_then(|(_, b)| *b)
    }

    /// The burn rate of the shortest window that has one ("current" burn).
    pub fn current_burn(&self) -> Option<f64> {
        self.burn_rates.iter().find_map(|(_, b)| *b)
    }

    /// Whether any burn window has a value: without one, "no alert" means "not measured".
    pub fn has_burn_data(&self) -> bool {
        self.current_burn().is_some()
    }

    pub fn exhaustion(&self) -> Exhaustion {
        let (Some(left), Some(burn)) = (self.budget_remaining, self.current_burn()) else {
            return Exhaustion::Unknown;
        };
        if left <= 0.0 {
            return Exhaustion::Empty;
        }
        match self.time_to_exhaustion {
            Some(d) if d.is_zero() => Exhaustion::Empty,
            Some(d) => Exhaustion::In(d),
            // Burn 0 (or a time too long to print) never empties it.
            None if burn.is_finite() => Exhaustion::Never,
            None => Exhaustion::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(obj: f64) -> SloDef {
        SloDef {
            name: "availability".into(),
            objective_pct: obj,
            window: Duration::from_secs(30 * 86_400),
            recorded: Vec::new(),
        }
    }

    #[test]
    fn seed_numbers() {
        // The monthly budget of a 99.95% SLO is ~21.6 minutes (seed 000 says "~22 minutes").
        let minutes = slo(99.95).budget_time().as_secs_f64() / 60.0;
        assert!((minutes - 21.6).abs() < 0.01, "{minutes}");
        // A 99.9% target with 99.95% success has half its budget left.
        let left = budget_remaining(0.0005, slo(99.9).allowed_error_ratio());
        assert!((left - 0.5).abs() < 1e-9, "{left}");
    }

    #[test]
    fn overspent_budget_is_negative_not_hidden() {
        assert!((budget_remaining(0.001, 0.0005) - (-1.0)).abs() < 1e-9);
        assert_eq!(
            time_to_exhaustion(-1.0, 2.0, Duration::from_secs(100)),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn time_to_exhaustion_scales_with_burn() {
        let month = Duration::from_secs(30 * 86_400);
        // Half a budget at burn 1 lasts half the window; at burn 2 a quarter.
        assert_eq!(time_to_exhaustion(0.5, 1.0, month), Some(month / 2));
        assert_eq!(time_to_exhaustion(0.5, 2.0, month), Some(month / 4));
        assert_eq!(
            time_to_exhaustion(0.5, 0.0, month),
            None,
            "no burn, no exhaustion"
        );
    }

    #[test]
    fn workbook_alert_conditions() {
        let rates = |pairs: &'static [(&'static str, f64)]| {
            move |w: &str| pairs.iter().find(|(l, _)| *l == w).map(|(_, b)| *b)
        };
        assert_eq!(
            alert_for(rates(&[("1h", 15.0), ("5m", 15.0)])),
            Some(Alert::Page)
        );
        assert_eq!(
            alert_for(rates(&[("1h", 15.0), ("5m", 2.0)])),
            None,
            "both windows must agree"
        );
        assert_eq!(
            alert_for(rates(&[("6h", 7.0), ("30m", 7.0)])),
            Some(Alert::Page)
        );
        assert_eq!(
            alert_for(rates(&[("1d", 3.5), ("2h", 3.5)])),
            Some(Alert::Ticket)
        );
        assert_eq!(
            alert_for(rates(&[("3d", 1.2), ("6h", 1.1)])),
            Some(Alert::Ticket)
        );
        assert_eq!(alert_for(rates(&[("3d", 0.9), ("6h", 1.1)])), None);
    }

    #[test]
    fn no_data_is_unknown_not_never() {
        let none = slo(99.95).evaluate(&SloMeasurement {
            error_ratio: None,
            window_ratios: vec![("5m".into(), None), ("1h".into(), None)],
        });
        assert_eq!(none.exhaustion(), Exhaustion::Unknown);
        assert!(!none.has_burn_data());
        let zero = slo(99.95).evaluate(&SloMeasurement {
            error_ratio: Some(0.0001),
            window_ratios: vec![("5m".into(), Some(0.0))],
        });
        assert_eq!(zero.exhaustion(), Exhaustion::Never);
        let spent = slo(99.95).evaluate(&SloMeasurement {
            error_ratio: Some(0.001),
            window_ratios: vec![("5m".into(), Some(0.001))],
        });
        assert_eq!(spent.exhaustion(), Exhaustion::Empty);
    }

    #[test]
    fn evaluate_uses_the_shortest_window_as_current_burn() {
        let m = SloMeasurement {
            error_ratio: Some(0.0002),
            window_ratios: vec![
                ("5m".into(), Some(0.0002)),
                ("1h".into(), Some(0.00025)),
                ("6h".into(), None),
            ],
        };
        let s = slo(99.95).evaluate(&m);
        assert!((s.budget_remaining.expect("budget") - 0.6).abs() < 1e-9);
        assert!((s.burn("5m").expect("5m") - 0.4).abs() < 1e-9);
        assert_eq!(s.burn("6h"), None);
        assert_eq!(s.alert, None);
        assert!(s.time_to_exhaustion.is_some());
    }
}
