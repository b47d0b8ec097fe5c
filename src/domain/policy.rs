//! Action policy: what a promotion needs before it may go ahead.

use super::gate::{GateEvaluation, Verdict};
use super::slo::BudgetStatus;

/// Why a promotion would need an override (typed rollout name + reason). Empty = a plain `y` will do.
pub fn promotion_blockers(
    gates: &[(String, GateEvaluation)],
    budgets: &[(String, BudgetStatus)],
    min_budget_pct: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, eval) in gates {
        match eval.verdict {
            Verdict::Fail => out.push(format!("{name}: FAIL ({})", eval.summary())),
            Verdict::NoData => out.push(format!("{name}: NO DATA ({})", eval.summary())),
            _ => {}
        }
    }
    for (name, budget) in budgets {
        match budget.budget_remaining {
            Some(left) if left * 100.0 < min_budget_pct => out.push(format!(
                "{name}: error budget {:.1}% left, under the {min_budget_pct}% needed to promote",
                left * 100.0
            )),
            None => out.push(format!("{name}: error budget unknown (no data)")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::Severity;

    fn eval(verdict: Verdict) -> GateEvaluation {
        GateEvaluation {
            verdict,
            severity: Severity::Rollback,
            baseline: Some(1.0),
            canary: Some(1.0),
            reasons: vec!["why".into()],
            violating_points: 0,
            required_points: 1,
            threshold: None,
            canary_requests: None,
        }
    }

    fn budget(left: Option<f64>) -> BudgetStatus {
        BudgetStatus {
            error_ratio: None,
            budget_remaining: left,
            burn_rates: vec![],
            time_to_exhaustion: None,
            alert: None,
        }
    }

    #[test]
    fn fail_no_data_and_low_budget_block_but_pending_and_warn_do_not() {
        let gates = vec![
            ("p95".to_string(), eval(Verdict::Pass)),
            ("p99".to_string(), eval(Verdict::Pending)),
            ("rps".to_string(), eval(Verdict::Warn)),
        ];
        assert!(promotion_blockers(&gates, &[("a".into(), budget(Some(0.5)))], 10.0).is_empty());
        let gates = vec![
            ("p95".to_string(), eval(Verdict::Fail)),
            ("err".to_string(), eval(Verdict::NoData)),
        ];
        let b = promotion_blockers(&gates, &[("a".into(), budget(Some(0.05)))], 10.0);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b[2].contains("5.0% left"), "{}", b[2]);
    }
}
