//! Property tests for the error-budget and burn-rate maths: monotonic, bounded, and never NaN
//! out of finite input.

use proptest::prelude::*;
use std::time::Duration;

use rollout_console::domain::slo::{
    BURN_WINDOWS, SloDef, SloMeasurement, alert_for, budget_remaining, burn_rate,
    time_to_exhaustion,
};

fn ratio() -> impl Strategy<Value = f64> {
    0.0f64..=1.0
}

fn objective() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(99.0),
        Just(99.9),
        Just(99.95),
        Just(99.99),
        90.0f64..99.999
    ]
}

proptest! {
    #[test]
    fn more_errors_never_leave_more_budget(a in ratio(), b in ratio(), obj in objective()) {
        let allowed = 1.0 - obj / 100.0;
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(budget_remaining(hi, allowed) <= budget_remaining(lo, allowed));
        prop_assert!(burn_rate(hi, allowed) >= burn_rate(lo, allowed));
    }

    #[test]
    fn budget_is_at_most_whole_and_finite(e in ratio(), obj in objective()) {
        let allowed = 1.0 - obj / 100.0;
        let left = budget_remaining(e, allowed);
        let burn = burn_rate(e, allowed);
        prop_assert!(left.is_finite() && left <= 1.0);
        prop_assert!(burn.is_finite() && burn >= 0.0);
        // The two views agree: what is left is what was not burnt.
        prop_assert!((left - (1.0 - burn)).abs() < 1e-9);
    }

    #[test]
    fn faster_burn_never_lasts_longer(left in -1.0f64..=1.0, b1 in 0.001f64..1000.0, b2 in 0.001f64..1000.0, days in 1u64..90) {
        let window = Duration::from_secs(days * 86_400);
        let (slow, fast) = if b1 <= b2 { (b1, b2) } else { (b2, b1) };
        let t_slow = time_to_exhaustion(left, slow, window);
        let t_fast = time_to_exhaustion(left, fast, window);
        prop_assert!(t_slow.is_some() && t_fast.is_some());
        prop_assert!(t_fast <= t_slow);
        if left <= 0.0 {
            prop_assert_eq!(t_fast, Some(Duration::ZERO));
        }
    }

    #[test]
    fn evaluate_never_makes_nan_from_finite_input(e in ratio(), windows in proptest::collection::vec(proptest::option::of(ratio()), 7), obj in objective()) {
        let slo = SloDef { name: "a".into(), objective_pct: obj, window: Duration::from_secs(30 * 86_400), recorded: Vec::new() };
        let m = SloMeasurement {
            error_ratio: Some(e),
            window_ratios: BURN_WINDOWS.iter().zip(&windows).map(|((l, _), r)| (l.to_string(), *r)).collect(),
        };
        let s = slo.evaluate(&m);
        prop_assert!(s.budget_remaining.is_some_and(f64::is_finite));
        prop_assert!(s.burn_rates.iter().all(|(_, b)| b.is_none_or(f64::is_finite)));
        // An alert needs both of its windows: a missing window never pages.
        if windows.iter().all(Option::is_none) {
            prop_assert_eq!(s.alert, None);
        }
    }

    #[test]
    fn alerts_are_monotonic_in_burn(scale in 1.0f64..50.0, base in 0.0f64..20.0) {
        // Scaling every window's burn up never lowers the alert level.
        let level = |k: f64| match alert_for(|_| Some(base * k)) {
            None => 0,
            Some(rollout_console::domain::slo::Alert::Ticket) => 1,
            Some(rollout_console::domain::slo::Alert::Page) => 2,
        };
        prop_assert!(level(scale) >= level(1.0));
    }
}
