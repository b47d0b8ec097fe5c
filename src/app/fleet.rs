//! The fleet list's rows: what one row says of a rollout (its state, step, worst verdict, judge,
//! budget, hold, pause and last action) and the facts the attention sort ranks it by, all worked
//! out from a `RolloutModel` at `now`. Pure: the view lays the rows out, `derived` orders and
//! filters them.

use chrono::{DateTime, Utc};

use super::explain::alert_label;
use super::model::{BudgetCell, EventLevel, FleetRow, Model, RolloutModel, Tone, worst as worse};
use crate::domain::attention::{Attention, AttentionFacts, attention, order};
use crate::domain::format::{age, short_duration};
use crate::domain::judge::{Overall, ScoreThresholds};
use crate::domain::rollout::Eta;
use crate::domain::slo::Alert;
use crate::domain::{AnalysisPhase, RolloutState, Severity, Verdict};

/// One rollout's row at `now`.
pub fn row(
    index: usize,
    r: &RolloutModel,
    now: DateTime<Utc>,
    thresholds: &ScoreThresholds,
) -> FleetRow {
    let (namespace, name) = match r.name.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
            (Some(ns.to_string()), name.to_string())
        }
        _ => (None, r.name.clone()),
    };
    let rollout = r.rollout.as_ref();
    let read_error = r.rollout_error.clone();
    let readable = rollout.is_some() && read_error.is_none();
    let evals = r.gate_evaluations();
    let budgets = r.budgets();
    let advised_by_gate = evals
        .iter()
        .any(|(_, e)| e.verdict == Verdict::Fail && e.severity == Severity::Rollback);
    let failed_analysis = rollout.is_some_and(|r| {
        r.analysis
            .iter()
            .any(|a| matches!(a.phase, AnalysisPhase::Failed | AnalysisPhase::Error))
    });
    let pages = budgets.iter().any(|(_, b)| b.alert == Some(Alert::Page));
    let warned = evals
        .iter()
        .any(|(_, e)| e.verdict == Verdict::Fail && e.severity != Severity::Rollback)
        || budgets.iter().any(|(_, b)| b.alert == Some(Alert::Ticket));
    let ready = readable && r.readiness(now).is_some_and(|ready| ready.ready);
    let state = rollout.map(|r| r.state);
    let facts = AttentionFacts {
        name: name.clone(),
        namespace: namespace.clone(),
        state: state.filter(|_| readable),
        rollback_advised: advised_by_gate || failed_analysis || pages,
        ready_to_promote: ready,
        warned,
        paused_at: rollout
            .filter(|r| r.state == RolloutState::Paused)
            .and_then(|r| r.paused_at),
        finished_at: rollout
            .filter(|r| r.state.is_terminal())
            .map(|r| r.step_started_at),
    };
    let worst = worst_metric(r);
    FleetRow {
        index,
        name,
        namespace,
        rank: attention(&facts),
        state,
        read_error,
        step: rollout.map(|r| (r.step + 1, r.steps.len(), r.canary_weight)),
        worst_failed: worst.as_ref().is_some_and(|(v, _, i)| {
            *v == Verdict::NoData && r.panels.get(*i).is_some_and(|p| p.error.is_some())
        }),
        worst,
        metrics_read: r.polls.metrics_answered,
        judge: judge_words(r, thresholds),
        budget: budget_cell(&budgets, r.slos.iter().any(|s| s.error.is_some())),
        hold: hold_words(r, now),
        paused: rollout
            .filter(|r| r.state == RolloutState::Paused)
            .map(|p| {
                (
                    p.paused_by.clone().unwrap_or_else(|| "someone".into()),
                    p.paused_at.map(|t| age(t, now)),
                )
            }),
        last_action: last_action(r, now),
        facts,
    }
}

/// The worst verdict over the rollout's metrics and the first metric that has it.
fn worst_metric(r: &RolloutModel) -> Option<(Verdict, String, usize)> {
    r.panels
        .iter()
        .enumerate()
        .map(|(i, p)| (p.verdict(), p.def.name.clone(), i))
        .reduce(|a, b| {
            if worse(a.0, b.0) == b.0 && a.0 != b.0 {
                b
            } else {
                a
            }
        })
}

/// The judges in words, as the rollout screen's header says them: the worst sequential verdict
/// and its metric, else the Mann–Whitney score ("collecting" while it lacks samples).
fn judge_words(r: &RolloutModel, thresholds: &ScoreThresholds) -> Option<(Tone, String)> {
    if let Some((verdict, metric)) = r.sequential_summary() {
        let tone = match verdict {
            Verdict::Fail => Tone::Bad,
            Verdict::Pass => Tone::Good,
            Verdict::Warn | Verdict::NoData | Verdict::Pending => Tone::Warn,
            Verdict::Collecting => Tone::Neutral,
        };
        let text = match verdict {
            Verdict::Collecting => "collecting".to_string(),
            Verdict::Pass => format!("{} PASS", verdict.symbol()),
            v => format!("{} {} {metric}", v.symbol(), v.label()),
        };
        return Some((tone, text));
    }
    let score = r.judge_score(thresholds)?;
    if r.judge_collecting(thresholds) {
        return Some((Tone::Neutral, "collecting".into()));
    }
    let tone = match score.overall {
        Overall::Pass => Tone::Good,
        Overall::Inconclusive => Tone::Warn,
        Overall::Fail => Tone::Bad,
    };
    Some((tone, format!("score {:.0}/100", score.score + 0.0)))
}

/// The least budget left over the SLOs (an SLO without an answer wins: unknown is never fine)
/// and the worst alert of any.
fn budget_cell(
    budgets: &[(String, crate::domain::BudgetStatus)],
    any_failed: bool,
) -> Option<BudgetCell> {
    let (slo, left) = budgets
        .iter()
        .map(|(name, b)| (name.clone(), b.budget_remaining))
        .reduce(|a, b| match (a.1, b.1) {
            (None, _) => a,
            (_, None) => b,
            (Some(x), Some(y)) if y < x => b,
            _ => a,
        })?;
    let alert = budgets
        .iter()
        .filter_map(|(_, b)| b.alert)
        .max_by_key(|a| matches!(a, Alert::Page));
    Some(BudgetCell {
        slo,
        left,
        alert,
        burn_measured: budgets.iter().all(|(_, b)| b.has_burn_data()),
        failed: left.is_none() && any_failed,
    })
}

/// The hold countdown while the clock runs, else why there is none (the ETA's words).
fn hold_words(r: &RolloutModel, now: DateTime<Utc>) -> String {
    let Some(rollout) = &r.rollout else {
        return "no hold known".into();
    };
    match rollout.eta(now) {
        Eta::Running(_) => match rollout.hold_remaining(now) {
            Some(left) if !left.is_zero() => format!("hold {} left", short_duration(left)),
            _ => "last step".into(),
        },
        Eta::Held => "held".into(),
        Eta::AwaitingPromotion => "waits for promote".into(),
        Eta::Paused { .. } => match rollout.hold_remaining(now) {
            Some(left) => format!("paused, {} left", short_duration(left)),
            None => "paused".into(),
        },
        Eta::Completed => "at 100%".into(),
        Eta::RolledBack => "rolled back".into(),
        Eta::Failed => "failed".into(),
    }
}

/// The last action's outcome (the footer's status) or the newest action event, with its age.
fn last_action(
    r: &RolloutModel,
    now: DateTime<Utc>,
) -> Option<(Option<std::time::Duration>, String)> {
    if let Some((_, text)) = &r.action_status {
        let at = r
            .events
            .iter()
            .find(|e| e.level == EventLevel::Action)
            .map(|e| age(e.at, now));
        return Some((at, text.clone()));
    }
    r.events
        .iter()
        .find(|e| e.level == EventLevel::Action)
        .map(|e| (Some(age(e.at, now)), e.text.clone()))
}

/// The state in words, as the filter matches it and the row shows it.
pub fn state_words(row: &FleetRow) -> String {
    match (row.state, &row.read_error) {
        (_, Some(_)) => "UNREADABLE".into(),
        (Some(s), None) => s.label().into(),
        (None, None) => "WAITING".into(),
    }
}

/// Whether a row matches the filter: every word of it (case-insensitive) appears in the name,
/// the namespace, the state or the rank's words.
pub fn matches(row: &FleetRow, filter: &str) -> bool {
    let hay = format!(
        "{} {} {} {}",
        row.name,
        row.namespace.as_deref().unwrap_or(""),
        state_words(row),
        row.rank.label()
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|w| hay.contains(w))
}

/// Every rollout's row, most urgent first.
pub fn all_rows(model: &Model) -> Vec<FleetRow> {
    let rows: Vec<FleetRow> = model
        .rollouts
        .iter()
        .enumerate()
        .map(|(i, r)| row(i, r, model.now, &model.judge_thresholds))
        .collect();
    let facts: Vec<AttentionFacts> = rows.iter().map(|r| r.facts.clone()).collect();
    let mut slots: Vec<Option<FleetRow>> = rows.into_iter().map(Some).collect();
    order(&facts)
        .into_iter()
        .filter_map(|i| slots[i].take())
        .collect()
}

/// How many rows of each rank, most urgent first, ranks without rows left out.
pub fn counts(rows: &[FleetRow]) -> Vec<(Attention, usize)> {
    let mut out: Vec<(Attention, usize)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(a, _)| *a == r.rank) {
            Some((_, n)) => *n += 1,
            None => out.push((r.rank, 1)),
        }
    }
    out.sort_by_key(|(a, _)| *a);
    out
}

/// The alert as the row prints it.
pub fn alert_word(alert: Option<Alert>) -> Option<&'static str> {
    alert.map(alert_label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::model::{MetricPanel, Settings, SloPanel};
    use crate::domain::rollout::tests::{sample_rollout, t0};
    use crate::domain::{BudgetStatus, GateEvaluation, SloDef};
    use std::time::Duration;

    fn settings() -> Settings {
        Settings {
            rollout_name: "checkout".into(),
            read_only: false,
            poll_interval: Duration::from_secs(2),
            min_budget_to_promote_pct: 10.0,
            actor: "alice@bastion".into(),
            ssh_client: None,
            source_label: "test".into(),
            audit_path: "/tmp/audit.jsonl".into(),
        }
    }

    fn panel(name: &str) -> MetricPanel {
        let def = crate::setup::demo_panels::metric_panels()
            .into_iter()
            .next()
            .expect("a demo panel")
            .def;
        MetricPanel::new(
            crate::domain::MetricDef {
                name: name.into(),
                ..def
            },
            "q".into(),
        )
    }

    fn eval(verdict: Verdict, severity: Severity) -> GateEvaluation {
        GateEvaluation {
            verdict,
            severity,
            baseline: None,
            canary: None,
            reasons: vec!["because".into()],
            violating_points: 0,
            required_points: 1,
            threshold: None,
            canary_requests: None,
        }
    }

    fn rollout_model(name: &str) -> RolloutModel {
        let mut r = RolloutModel::new(name.into(), vec![panel("p95 latency")], vec![]);
        r.rollout = Some(sample_rollout());
        r
    }

    /// A 99.9% availability SLO over 30 days, not answered yet.
    fn availability() -> SloPanel {
        SloPanel::new(
            SloDef {
                name: "availability".into(),
                objective_pct: 99.9,
                window: Duration::from_secs(30 * 86_400),
                recorded: Vec::new(),
            },
            "q".into(),
        )
    }

    fn row_at(r: &RolloutModel, secs: i64) -> FleetRow {
        row(
            0,
            r,
            t0() + chrono::Duration::seconds(secs),
            &ScoreThresholds::default(),
        )
    }

    #[test]
    fn a_namespaced_name_splits_and_a_plain_one_does_not() {
        let r = rollout_model("shop/checkout");
        let row = row_at(&r, 10);
        assert_eq!(
            (row.namespace.as_deref(), row.name.as_str()),
            (Some("shop"), "checkout")
        );
        let r = rollout_model("checkout");
        assert_eq!(row_at(&r, 10).namespace, None);
    }

    #[test]
    fn no_answer_is_no_data_never_a_pass() {
        let r = rollout_model("checkout");
        let row = row_at(&r, 10);
        let (verdict, metric, _) = row.worst.expect("a metric");
        assert_eq!((verdict, metric.as_str()), (Verdict::NoData, "p95 latency"));
        assert!(!row.facts.ready_to_promote);
        // No rollout read yet: no state, and the rank says so.
        let mut r = rollout_model("checkout");
        r.rollout = None;
        let row = row_at(&r, 10);
        assert_eq!(row.rank, Attention::Unreadable);
        assert_eq!(state_words(&row), "WAITING");
        assert_eq!(row.hold, "no hold known");
        // An SLO without an answer: the budget is unknown, not full.
        let mut r = rollout_model("checkout");
        r.slos.push(availability());
        let budget = row_at(&r, 10).budget.expect("a budget");
        assert_eq!((budget.left, budget.burn_measured), (None, false));
    }

    #[test]
    fn a_failed_query_is_told_apart_from_an_empty_answer() {
        let mut r = rollout_model("checkout");
        assert!(
            !row_at(&r, 10).worst_failed,
            "no answer yet is not an error"
        );
        r.panels[0].error = Some("the metrics source did not answer within 15s".into());
        let row = row_at(&r, 10);
        assert_eq!(row.worst.map(|w| w.0), Some(Verdict::NoData));
        assert!(row.worst_failed);
        // An SLO that failed to be read: its budget is unknown and says why.
        let mut slo = availability();
        r.slos.push(slo.clone());
        let budget = row_at(&r, 10).budget.expect("a budget");
        assert_eq!((budget.left, budget.failed), (None, false));
        slo.error = Some("HTTP 503".into());
        r.slos = vec![slo];
        let budget = row_at(&r, 10).budget.expect("a budget");
        assert_eq!((budget.left, budget.failed), (None, true));
    }

    #[test]
    fn a_rollback_fail_a_failed_analysis_or_a_page_advise_rollback() {
        let mut r = rollout_model("checkout");
        r.panels[0].def.gate.severity = Severity::Rollback;
        r.panels[0].eval = Some(eval(Verdict::Fail, Severity::Rollback));
        let row = row_at(&r, 10);
        assert!(row.facts.rollback_advised);
        assert_eq!(row.rank, Attention::RollbackAdvised);
        assert_eq!(row.worst.map(|w| w.0), Some(Verdict::Fail));
        // A FAIL that only holds does not.
        r.panels[0].def.gate.severity = Severity::Hold;
        r.panels[0].eval = Some(eval(Verdict::Fail, Severity::Hold));
        let held = row_at(&r, 10);
        assert!(!held.facts.rollback_advised);
        // It warns: the row goes first among the running ones.
        assert!(held.facts.warned);
        r.panels[0].eval = Some(eval(Verdict::Pass, Severity::Hold));
        assert!(!row_at(&r, 10).facts.warned);
        // A failed backend analysis does.
        let mut a = rollout_model("checkout");
        if let Some(ro) = a.rollout.as_mut() {
            ro.analysis.push(crate::domain::AnalysisResult {
                run: "run-1".into(),
                metric: "success-rate".into(),
                phase: AnalysisPhase::Failed,
                value: None,
                message: None,
                at: None,
            });
        }
        assert!(row_at(&a, 10).facts.rollback_advised);
        // A page-level burn does; a ticket does not.
        let mut s = rollout_model("checkout");
        let mut slo = availability();
        slo.status = Some(BudgetStatus {
            error_ratio: Some(0.01),
            budget_remaining: Some(0.4),
            burn_rates: vec![("5m".into(), Some(20.0))],
            time_to_exhaustion: None,
            alert: Some(Alert::Page),
        });
        s.slos.push(slo.clone());
        let row = row_at(&s, 10);
        assert!(row.facts.rollback_advised);
        let budget = row.budget.expect("a budget");
        assert_eq!(
            (budget.left, alert_word(budget.alert)),
            (Some(0.4), Some("PAGE"))
        );
        slo.status.as_mut().expect("status").alert = Some(Alert::Ticket);
        s.slos[0] = slo;
        let ticket = row_at(&s, 10);
        assert!(!ticket.facts.rollback_advised);
        assert!(ticket.facts.warned);
    }

    #[test]
    fn paused_rows_say_who_and_how_long_ago_and_the_clock_is_stopped() {
        let mut r = rollout_model("checkout");
        if let Some(ro) = r.rollout.as_mut() {
            ro.pause(ro.step, "bob@laptop", t0() + chrono::Duration::seconds(20))
                .expect("pause");
        }
        let row = row_at(&r, 200);
        assert_eq!(row.rank, Attention::WaitingForHuman);
        assert_eq!(
            row.paused,
            Some(("bob@laptop".into(), Some(Duration::from_secs(180))))
        );
        assert!(row.hold.starts_with("paused, "), "{}", row.hold);
        assert_eq!(
            row.facts.paused_at,
            Some(t0() + chrono::Duration::seconds(20))
        );
    }

    #[test]
    fn a_running_hold_counts_down_and_a_finished_rollout_says_so() {
        let r = rollout_model("checkout");
        let row = row_at(&r, 10);
        assert!(
            row.hold.starts_with("hold ") && row.hold.ends_with(" left"),
            "{}",
            row.hold
        );
        assert_eq!(row.step.map(|s| s.0), Some(1));
        let mut done = rollout_model("checkout");
        if let Some(ro) = done.rollout.as_mut() {
            ro.state = RolloutState::Completed;
        }
        let row = row_at(&done, 10);
        assert_eq!(
            (row.rank, row.hold.as_str()),
            (Attention::Finished, "at 100%")
        );
        assert!(row.facts.finished_at.is_some());
    }

    #[test]
    fn the_last_action_is_the_status_or_the_newest_action_event() {
        let mut r = rollout_model("checkout");
        assert_eq!(row_at(&r, 10).last_action, None);
        r.push_event(t0(), EventLevel::Info, "not an action");
        r.push_event(t0(), EventLevel::Action, "promote sent by alice");
        assert_eq!(
            row_at(&r, 10).last_action,
            Some((
                Some(Duration::from_secs(10)),
                "promote sent by alice".into()
            ))
        );
        r.action_status = Some((EventLevel::Good, "promoted to step 2".into()));
        assert_eq!(
            row_at(&r, 10).last_action.map(|a| a.1),
            Some("promoted to step 2".into())
        );
    }

    #[test]
    fn the_filter_matches_name_namespace_and_state_words() {
        let mut r = rollout_model("shop/checkout");
        if let Some(ro) = r.rollout.as_mut() {
            ro.state = RolloutState::Paused;
        }
        let row = row_at(&r, 10);
        for yes in ["", "check", "SHOP", "paused", "shop check", "human"] {
            assert!(matches(&row, yes), "{yes}");
        }
        for no in ["payments", "progressing", "shop pay"] {
            assert!(!matches(&row, no), "{no}");
        }
    }

    #[test]
    fn rows_come_in_attention_order_and_counts_follow_it() {
        let healthy = rollout_model("a-healthy");
        let mut bad = rollout_model("z-bad");
        bad.panels[0].def.gate.severity = Severity::Rollback;
        bad.panels[0].eval = Some(eval(Verdict::Fail, Severity::Rollback));
        let model = Model::new(
            settings(),
            vec![],
            vec![],
            t0() + chrono::Duration::seconds(10),
        )
        .with_rollouts(vec![healthy, bad]);
        let rows = all_rows(&model);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["z-bad", "a-healthy"]);
        assert_eq!(rows[0].index, 1);
        assert_eq!(
            counts(&rows),
            [(Attention::RollbackAdvised, 1), (Attention::Progressing, 1)]
        );
        assert!(model.fleet.shown);
    }
}
