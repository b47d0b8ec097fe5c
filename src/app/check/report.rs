//! The report of `rollout-console check`: the model judged as it stands, turned into one report
//! (its `--json` contract, its table for people) with an exit code. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::app::model::Model;
use crate::domain::policy::promotion_blockers;
use crate::domain::slo::Alert;
use crate::domain::{Severity, Unit, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    Pass,
    Fail,
    Inconclusive,
    /// The rollout already finished (canary at 100%): nothing is left to judge or block.
    Completed,
}

impl Overall {
    /// 0 = pass or completed, 1 = fail, 3 = inconclusive (2 is usage or config error, decided
    /// earlier).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Pass | Self::Completed => 0,
            Self::Fail => 1,
            Self::Inconclusive => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricReport {
    pub name: String,
    pub unit: Unit,
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    /// `pass`, `fail`, `pending`, `no_data` or `warn`.
    pub verdict: Verdict,
    pub severity: Severity,
    pub reasons: Vec<String>,
    /// The limit on the canary that decided the verdict.
    pub threshold: Option<f64>,
    /// The sequential judge's figures (`judge = "sequential"`): `decision`, `effect`,
    /// `evidence` against `threshold` (ln 1/α), `estimate`, `range`, `requests`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<crate::domain::sequential::Figures>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloReport {
    pub name: String,
    pub objective: f64,
    pub error_ratio: Option<f64>,
    pub budget_remaining_pct: Option<f64>,
    pub burn_rates: BTreeMap<String, Option<f64>>,
    pub alert: Option<Alert>,
    pub time_to_exhaustion_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `--json` contract: these keys are parsed by CI scripts; extend, never rename.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub rollout: String,
    pub evaluated_at: DateTime<Utc>,
    pub verdict: Overall,
    pub metrics: Vec<MetricReport>,
    pub slos: Vec<SloReport>,
    pub ready_to_promote: bool,
    // Extensions.
    /// 0-based (people read `step_index + 1`, as the human output prints).
    #[serde(rename = "step_index")]
    pub step: Option<usize>,
    pub canary_weight: Option<u8>,
    pub state: Option<String>,
    /// Why not ready (empty when ready).
    pub readiness: Vec<String>,
    /// What the promotion policy says needs an override (error budgets).
    pub policy: Vec<String>,
    pub override_reason: Option<String>,
    /// The statistical judge's score, when any metric has `judge = "mann-whitney"`.
    pub score: Option<crate::domain::judge::Score>,
    /// Why the verdict is what it is, in words.
    pub summary: Vec<String>,
    pub exit_code: u8,
}

/// Judge the model as it stands. `override_reason` lifts the error-budget policy only.
pub fn report(model: &Model, override_reason: Option<&str>) -> CheckReport {
    let evals = model.gate_evaluations();
    let metrics: Vec<MetricReport> = model
        .current()
        .panels
        .iter()
        .zip(&evals)
        .map(|(p, (name, e))| MetricReport {
            name: name.clone(),
            unit: p.def.unit,
            baseline: e.baseline,
            canary: e.canary,
            verdict: e.verdict,
            severity: e.severity,
            reasons: e.reasons.clone(),
            threshold: e.threshold,
            sequential: p.sequential_shown().map(|r| r.figures()),
        })
        .collect();
    let budgets = model.budgets();
    let slos = model
        .current()
        .slos
        .iter()
        .zip(&budgets)
        .map(|(s, (name, b))| SloReport {
            name: name.clone(),
            objective: s.def.objective_pct,
            error_ratio: b.error_ratio,
            budget_remaining_pct: b.budget_remaining.map(|r| r * 100.0),
            burn_rates: b.burn_rates.iter().cloned().collect(),
            alert: b.alert,
            time_to_exhaustion_seconds: b.time_to_exhaustion.map(|d| d.as_secs()),
            error: s.error.clone(),
        })
        .collect();
    // Budget policy only (gate verdicts are judged below on their own); an unknown budget is
    // inconclusive rather than a block.
    let policy: Vec<String> =
        promotion_blockers(&[], &budgets, model.settings.min_budget_to_promote_pct)
            .into_iter()
            .filter(|p| !p.ends_with("(no data)"))
            .collect();
    let readiness = model.readiness();
    let mut summary = Vec::new();
    let mut overall = Overall::Pass;
    let mut worsen = |to: Overall, why: String, summary: &mut Vec<String>| {
        summary.push(why);
        overall = match (overall, to) {
            (Overall::Fail, _) | (_, Overall::Fail) => Overall::Fail,
            (Overall::Inconclusive, _) | (_, Overall::Inconclusive) => Overall::Inconclusive,
            _ => Overall::Pass,
        };
    };
    match (&model.current().rollout, &model.current().rollout_error) {
        (None, Some(e)) => worsen(
            Overall::Inconclusive,
            format!("cannot read the rollout: {e}"),
            &mut summary,
        ),
        (None, None) => worsen(
            Overall::Inconclusive,
            "the rollout was not read".into(),
            &mut summary,
        ),
        _ => {}
    }
    // A finished rollout has no baseline left to compare with: say so instead of NO DATA.
    let completed = model
        .current()
        .rollout
        .as_ref()
        .filter(|r| r.state == crate::domain::RolloutState::Completed);
    if let Some(r) = completed {
        summary.push(format!(
            "completed: {} serves 100% of traffic; nothing left to judge",
            r.canary_version
        ));
        return CheckReport {
            rollout: model.settings.rollout_name.clone(),
            evaluated_at: DateTime::from_timestamp(model.now.timestamp(), 0).unwrap_or(model.now),
            verdict: Overall::Completed,
            metrics,
            slos,
            ready_to_promote: false,
            step: Some(r.step),
            canary_weight: Some(r.canary_weight),
            state: Some(r.state.label().to_string()),
            readiness: vec!["completed: nothing left to promote".into()],
            policy,
            override_reason: override_reason.map(str::to_string),
            score: model.judge_score(),
            summary,
            exit_code: Overall::Completed.exit_code(),
        };
    }
    for m in &metrics {
        let why = || {
            format!(
                "{}: {} ({})",
                m.name,
                m.verdict.label(),
                m.reasons.first().map_or("", String::as_str)
            )
        };
        match m.verdict {
            Verdict::Fail => worsen(Overall::Fail, why(), &mut summary),
            Verdict::NoData | Verdict::Pending | Verdict::Collecting => {
                worsen(Overall::Inconclusive, why(), &mut summary)
            }
            Verdict::Pass | Verdict::Warn => {}
        }
    }
    for (name, b) in &budgets {
        if b.budget_remaining.is_none() {
            worsen(
                Overall::Inconclusive,
                format!("SLO {name}: error budget unknown (no data)"),
                &mut summary,
            );
        }
    }
    let score = model.judge_score();
    if let Some(sc) = &score {
        let why = format!(
            "judge score {:.0} ({:?}): {}",
            sc.score + 0.0,
            sc.overall,
            sc.reasons.join("; ")
        );
        match sc.overall {
            crate::domain::judge::Overall::Fail => worsen(Overall::Fail, why, &mut summary),
            crate::domain::judge::Overall::Inconclusive => {
                worsen(Overall::Inconclusive, why, &mut summary)
            }
            crate::domain::judge::Overall::Pass => {}
        }
    }
    match override_reason.filter(|r| !r.trim().is_empty()) {
        Some(reason) if !policy.is_empty() => summary.push(format!("policy overridden: {reason}")),
        _ => {
            for p in &policy {
                worsen(
                    Overall::Fail,
                    format!("{p}: promotion blocked (pass --override-reason to override)"),
                    &mut summary,
                );
            }
        }
    }
    let ready = readiness.as_ref().is_some_and(|r| r.ready) && overall == Overall::Pass;
    CheckReport {
        rollout: model.settings.rollout_name.clone(),
        // Whole seconds, as CI scripts expect `2026-11-23T09:30:00Z`.
        evaluated_at: DateTime::from_timestamp(model.now.timestamp(), 0).unwrap_or(model.now),
        verdict: overall,
        metrics,
        slos,
        ready_to_promote: ready,
        step: model.current().rollout.as_ref().map(|r| r.step),
        canary_weight: model.current().rollout.as_ref().map(|r| r.canary_weight),
        state: model
            .current()
            .rollout
            .as_ref()
            .map(|r| r.state.label().to_string()),
        readiness: readiness.map(|r| r.reasons).unwrap_or_default(),
        policy,
        override_reason: override_reason.map(str::to_string),
        score,
        summary,
        exit_code: overall.exit_code(),
    }
}

/// Whether `--wait` can stop with a failure: a rollback-severity gate failed.
pub fn rollback_advised(report: &CheckReport) -> bool {
    report
        .metrics
        .iter()
        .any(|m| m.verdict == Verdict::Fail && m.severity == Severity::Rollback)
}

fn upper_snake(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `sequential COLLECTING: evidence 1.6/5.3, latency ×1.04 (99.5% range 0.91–1.19), 212 canary
/// / 4100 baseline requests, a decision in ≈ 40s`.
fn sequential_line(f: &crate::domain::sequential::Figures) -> String {
    use crate::domain::sequential::Effect;
    let what = match f.effect {
        Effect::LatencyFactor => "latency",
        Effect::ErrorRatio => "error ratio",
    };
    let estimate = match (f.estimate, f.range) {
        (Some(e), Some([lo, hi])) => format!(
            "{what} ×{e:.2} ({} range {lo:.2}–{hi:.2})",
            crate::domain::sequential::percent_label(f.confidence)
        ),
        (Some(e), None) => format!("{what} ×{e:.2} (no single factor fits)"),
        _ => format!("{what}: no estimate yet"),
    };
    let eta = f
        .eta_seconds
        .map(|s| {
            format!(
                ", a decision in ≈ {}",
                crate::domain::format::short_duration(std::time::Duration::from_secs(s))
            )
        })
        .unwrap_or_default();
    format!(
        "sequential {}: evidence {:.1}/{:.1}, {estimate}, {:.0} canary / {:.0} baseline requests{eta}",
        f.decision.label(),
        f.evidence.max(0.0),
        f.threshold,
        f.requests.canary,
        f.requests.baseline
    )
}

/// The human table, in the spirit of `LATENCY_P99: PASS (145ms < 150ms, baseline=100ms)`.
pub fn render_human(r: &CheckReport) -> String {
    let mut out = String::new();
    let where_ = match (r.step, r.canary_weight, &r.state) {
        (Some(step), Some(w), Some(state)) => format!("step {} at {w}%, {state}", step + 1),
        _ => "rollout unknown".into(),
    };
    out.push_str(&format!(
        "{}: {where_}; evaluated {}\n",
        r.rollout,
        r.evaluated_at.format("%Y-%m-%dT%H:%M:%SZ")
    ));
    let width = r.metrics.iter().map(|m| m.name.len()).max().unwrap_or(0) + 1;
    for m in &r.metrics {
        let f = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| m.unit.format(v));
        let numbers = match (m.canary, m.threshold) {
            (Some(_), Some(_)) => format!(
                "canary {}, limit {}, baseline={}",
                f(m.canary),
                f(m.threshold),
                f(m.baseline)
            ),
            (Some(_), None) => format!("canary {}, baseline={}", f(m.canary), f(m.baseline)),
            _ => m.reasons.first().cloned().unwrap_or_default(),
        };
        let label = format!("{}:", upper_snake(&m.name));
        out.push_str(&format!(
            "{label:<w$} {} ({numbers})",
            m.verdict.label(),
            w = width + 1
        ));
        if m.canary.is_some()
            && let Some(reason) = m.reasons.first()
        {
            out.push_str(&format!(" — {reason}"));
        }
        out.push('\n');
        if let Some(f) = &m.sequential {
            out.push_str(&format!("{:w$}{}\n", "", sequential_line(f), w = width + 2));
        }
    }
    for s in &r.slos {
        let budget = s
            .budget_remaining_pct
            .map_or_else(|| "unknown".into(), |b| format!("{b:.1}%"));
        let burns: Vec<String> = ["5m", "1h", "6h"]
            .iter()
            .map(|w| {
                format!(
                    "{w} {}",
                    s.burn_rates
                        .get(*w)
                        .copied()
                        .flatten()
                        .map_or_else(|| "—".into(), |b| format!("{b:.1}×"))
                )
            })
            .collect();
        // Without a single burn rate, "no alert" would be a claim nobody measured.
        let measured = s.burn_rates.values().any(Option::is_some);
        let burns = if measured {
            burns
        } else {
            vec!["unknown".to_string()]
        };
        let alert = match s.alert {
            Some(a) => format!("{} ALERT", crate::app::explain::alert_label(a)),
            None if measured => "no alert".into(),
            None => "alert unknown".into(),
        };
        out.push_str(&format!(
            "SLO {}: budget left {budget} (objective {}%); burn {}; {alert}",
            upper_snake(&s.name),
            s.objective,
            burns.join(", ")
        ));
        if let Some(e) = &s.error {
            out.push_str(&format!(" — {e}"));
        }
        out.push('\n');
    }
    if let Some(sc) = &r.score {
        out.push_str(
            &format!("JUDGE_SCORE: {:.0} ({:?})\n", sc.score + 0.0, sc.overall).to_uppercase(),
        );
    }
    // The reason goes on the line itself: the hold's, else the verdict's first.
    let ready = if r.ready_to_promote {
        "YES".to_string()
    } else {
        let why = r
            .readiness
            .first()
            .or(r.summary.first())
            .map_or("the verdict is not PASS", String::as_str);
        format!("NO ({why})")
    };
    out.push_str(&format!("READY_TO_PROMOTE: {ready}\n"));
    let verdict = match r.verdict {
        Overall::Pass => "PASS",
        Overall::Fail => "FAIL",
        Overall::Inconclusive => "INCONCLUSIVE",
        Overall::Completed => "COMPLETED",
    };
    // The console's advice, said as such: the controller decides on its own.
    let advice = match r.verdict {
        Overall::Fail if rollback_advised(r) => "; console advises roll back",
        Overall::Fail => "; console advises hold",
        _ => "",
    };
    out.push_str(&format!(
        "VERDICT: {verdict} (exit {}){advice}\n",
        r.exit_code
    ));
    for s in &r.summary {
        out.push_str(&format!("  {s}\n"));
    }
    out
}
