//! Recording rules for a grouped fleet (`rollout-console rules`, `[fleet] recorded = true`).
//!
//! A `rate(…[1m])` point reads every sample of its minute, and a 30-day SLO window every sample
//! of 30 days, whatever the console keeps; only Prometheus evaluating them once, for every
//! rollout and every viewer, takes that off each poll. Each rule is the grouped query the
//! console would send (`grouped::rewrite`, over every rollout of `[fleet] service`), so the
//! console then reads one recorded sample per rollout and track a step.
//!
//! Every rule carries a digest of its expression as a label, and the console reads the digest
//! of the query it would have sent: rules older than the config answer nothing (said on the
//! panel), never another query's values.

use std::fmt::Write as _;
use std::time::Duration;

use crate::domain::slo::BURN_WINDOWS;
use crate::metrics::grouped::{any_member_selector, members_regex, rewrite};
use crate::metrics::template::{self, Vars, escape_label_value};

/// Every record's name starts with this.
pub const RECORD_PREFIX: &str = "rollout_console:";
/// The label holding the digest of a rule's expression.
pub const DIGEST_LABEL: &str = "rollout_console_query";
/// The SLO windows up to this long are recorded from their query; longer ones are the mean of
/// the 5-minute record over the window (as Sloth records an SLO's period): a direct 30-day
/// window over a fleet's series reads more samples than Prometheus allows a query.
pub const LONGEST_DIRECT: Duration = Duration::from_secs(6 * 3600);

/// The fleet's labels: which holds the rollout's name, which the pod-template hash, and the
/// service's matchers with `$rollout` (`[fleet]`).
#[derive(Debug, Clone, Copy)]
pub struct Fleet<'a> {
    pub label: &'a str,
    pub hash_label: &'a str,
    pub service: &'a str,
}

/// One recording rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub record: String,
    pub expr: String,
    /// Of `expr`: the value of [`DIGEST_LABEL`] on the recorded series.
    pub digest: String,
}

impl Rule {
    fn new(record: String, expr: String) -> Self {
        let digest = digest(&expr);
        Self {
            record,
            expr,
            digest,
        }
    }

    /// This rule's series, selected by `label` and digest.
    fn selector(&self, matcher: &str) -> String {
        format!(
            "{}{{{matcher}, {DIGEST_LABEL}=\"{}\"}}",
            self.record, self.digest
        )
    }

    /// The PromQL reading this rule's series of `members` (`label` holds their names).
    pub fn read(&self, label: &str, members: &[String]) -> String {
        let regex = escape_label_value(&members_regex(members));
        self.selector(&format!("{label}=~\"{regex}\""))
    }
}

/// A metric's rule: its query over every rollout, by rollout and pod-template hash. `Err` says
/// why it cannot be recorded (the console asks it per rollout then).
pub fn metric_rule(
    fleet: Fleet,
    name: &str,
    template: &str,
    window: Duration,
) -> Result<Rule, String> {
    let expr = fleet_query(fleet, template, &[fleet.label, fleet.hash_label], window)?;
    Ok(Rule::new(format!("{RECORD_PREFIX}{}", slug(name)), expr))
}

/// An SLO's rules by window label.
pub type SloRules = Vec<(String, Rule)>;

/// An SLO's rules, one per window the console asks (`slos::slo_windows`: its own first, then
/// the burn windows), by window label, in that order. Windows past [`LONGEST_DIRECT`] average
/// the 5-minute record, so a rules file lists that one first (Prometheus evaluates a
/// group's rules in order).
pub fn slo_rules(
    fleet: Fleet,
    name: &str,
    error_ratio: &str,
    own_window: Duration,
) -> Result<SloRules, String> {
    let windows = std::iter::once((template::prom_duration(own_window), own_window))
        .chain(BURN_WINDOWS.iter().map(|(l, w)| (l.to_string(), *w)));
    let record = |label: &str| format!("{RECORD_PREFIX}{}:error_ratio_rate{label}", slug(name));
    let direct = |window: Duration| -> Result<Rule, String> {
        let ratio = fleet_query(fleet, error_ratio, &[fleet.label], window)?;
        // 0/0 (no requests in the window) records nothing rather than NaN, which would make
        // every longer mean over it NaN until it leaves the window.
        let expr = format!("({ratio}) >= 0");
        Ok(Rule::new(record(&template::prom_label(window)), expr))
    };
    let five = direct(Duration::from_secs(300))?;
    let mut out = Vec::new();
    for (label, window) in windows {
        let rule = if window <= LONGEST_DIRECT {
            direct(window)?
        } else {
            let base = five.selector(&format!("{}!=\"\"", fleet.label));
            let range = template::prom_duration(window);
            let expr = format!("sum_over_time({base}[{range}]) / count_over_time({base}[{range}])");
            Rule::new(record(&template::prom_label(window)), expr)
        };
        out.push((label, rule));
    }
    Ok(out)
}

/// `template` rewritten to keep `by` labels, over every rollout of the fleet.
fn fleet_query(
    fleet: Fleet,
    template: &str,
    by: &[&str],
    window: Duration,
) -> Result<String, String> {
    let grouped = rewrite(template, by).ok_or(
        "its query cannot be asked for the whole fleet: it needs an aggregation (sum, avg, …) \
         and none of without, topk, bottomk, quantile, count_values, on, ignoring",
    )?;
    let every = any_member_selector(fleet.service, fleet.label).ok_or_else(|| {
        format!(
            "[fleet] service must match the rollout's name as {}=\"$rollout\"",
            fleet.label
        )
    })?;
    let vars = Vars {
        selector: Some(&every),
        service: Some(&every),
        window: Some(window),
        rollout: None,
    };
    template::render(&grouped, &vars)
}

/// A record name's part from a metric's or SLO's name: `p95 latency` → `p95_latency`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() {
        "unnamed".into()
    } else {
        trimmed.to_string()
    }
}

/// FNV-1a, 64 bits: stable across builds and Rust versions, unlike std's hasher.
fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// What goes in a rules file: each metric's and SLO's rules, or why it has none.
#[derive(Debug, Clone)]
pub struct RulesPlan {
    /// Said at the top of the file (where the rules came from).
    pub source: String,
    /// The metrics' rule group's evaluation interval (the console's poll interval).
    pub interval: Duration,
    /// The SLO rule groups' (their windows are asked once a `slo_refresh`).
    pub slo_interval: Duration,
    pub metrics: Vec<(String, Result<Rule, String>)>,
    pub slos: Vec<(String, Result<SloRules, String>)>,
}

/// The plan as a Prometheus rules file (YAML; each expression a JSON string, which YAML reads
/// as a double-quoted scalar).
pub fn rules_yaml(plan: &RulesPlan) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Recording rules for rollout-console's grouped fleet, from {}.",
        plan.source
    );
    out.push_str(
        "# Load them in Prometheus (rule_files), then set `recorded = true` in [fleet]: the console\n\
         # reads one recorded sample per rollout and track a step instead of re-reading every\n\
         # sample of each rate window and SLO window. Write them again whenever a metric's query or\n\
         # window, an SLO, or [fleet] changes: each rule's `rollout_console_query` label is a digest\n\
         # of its expression, so a stale rule is read as no data, never as another query's values.\n\
         # SLO windows longer than 6h are the mean of the 5-minute ratio over the window (as Sloth\n\
         # records an SLO's period): exact when traffic is steady, an approximation when it is not.\n",
    );
    let left_out = plan
        .metrics
        .iter()
        .filter_map(|(n, r)| Some(("metric", n, r.as_ref().err()?)))
        .chain(
            plan.slos
                .iter()
                .filter_map(|(n, r)| Some(("SLO", n, r.as_ref().err()?))),
        );
    for (kind, name, why) in left_out {
        let _ = writeln!(out, "# not recorded: {kind} {name:?}: {why}");
    }
    out.push_str("groups:\n");
    let rule = |out: &mut String, r: &Rule| {
        let _ = writeln!(out, "      - record: {}", r.record);
        let _ = writeln!(out, "        expr: {}", quote(&r.expr));
        let _ = writeln!(out, "        labels:");
        let _ = writeln!(out, "          {DIGEST_LABEL}: {}", quote(&r.digest));
    };
    let metrics: Vec<&Rule> = plan
        .metrics
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    if !metrics.is_empty() {
        out.push_str("  - name: \"rollout-console-metrics\"\n");
        let _ = writeln!(
            out,
            "    interval: {}",
            template::prom_duration(plan.interval)
        );
        out.push_str("    rules:\n");
        for r in metrics {
            rule(&mut out, r);
        }
    }
    for (name, rules) in &plan.slos {
        let Ok(rules) = rules else { continue };
        let _ = writeln!(
            out,
            "  - name: {}",
            quote(&format!("rollout-console-slo-{}", slug(name)))
        );
        let _ = writeln!(
            out,
            "    interval: {}",
            template::prom_duration(plan.slo_interval)
        );
        out.push_str("    rules:\n");
        // Each record once; the 5-minute one first, as the means read it.
        let mut written: Vec<&str> = Vec::new();
        let five = rules.iter().filter(|(label, _)| label == "5m");
        let rest = rules.iter().filter(|(label, _)| label != "5m");
        for (_, r) in five.chain(rest) {
            if written.contains(&r.record.as_str()) {
                continue;
            }
            written.push(&r.record);
            rule(&mut out, r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLEET: Fleet = Fleet {
        label: "rollout",
        hash_label: "rollouts_pod_template_hash",
        service: "rollout=\"$rollout\", env=\"prod\"",
    };

    #[test]
    fn a_metric_rule_is_the_grouped_query_over_every_rollout() {
        let rule = metric_rule(
            FLEET,
            "p95 latency",
            "histogram_quantile(0.95, sum by (le) (rate(h_bucket{$selector}[$window])))",
            Duration::from_secs(60),
        );
        let rule = rule.expect("recordable");
        assert_eq!(rule.record, "rollout_console:p95_latency");
        assert_eq!(
            rule.expr,
            "histogram_quantile(0.95, sum by (le, rollout, rollouts_pod_template_hash) \
             (rate(h_bucket{rollout!=\"\", env=\"prod\"}[1m])))"
        );
        assert_eq!(
            rule.read("rollout", &["a".into(), "b.c".into()]),
            format!(
                "rollout_console:p95_latency{{rollout=~\"a|b\\\\.c\", rollout_console_query=\"{}\"}}",
                rule.digest
            )
        );
    }

    #[test]
    fn the_digest_follows_the_expression() {
        let at = |window: u64, template: &str| {
            metric_rule(FLEET, "x", template, Duration::from_secs(window)).map(|r| r.digest)
        };
        let q = "sum(rate(x{$selector}[$window]))";
        assert_eq!(at(60, q), at(60, q));
        assert_ne!(at(60, q), at(120, q), "the window is in the expression");
        assert_ne!(at(60, q), at(60, "avg(rate(x{$selector}[$window]))"));
        assert_eq!(at(60, q).map(|d| d.len()), Ok(16));
    }

    #[test]
    fn what_cannot_be_recorded_says_why() {
        let no_aggregation = metric_rule(
            FLEET,
            "x",
            "rate(x{$selector}[$window])",
            Duration::from_secs(60),
        );
        assert!(no_aggregation.is_err_and(|e| e.contains("needs an aggregation")));
        let other_label = Fleet {
            service: "app=\"$rollout\"",
            ..FLEET
        };
        let wrong = metric_rule(
            other_label,
            "x",
            "sum(x{$selector})",
            Duration::from_secs(60),
        );
        assert!(wrong.is_err_and(|e| e.contains("rollout=\"$rollout\"")));
    }

    #[test]
    fn slo_windows_past_six_hours_average_the_five_minute_record() {
        let rules = slo_rules(
            FLEET,
            "availability",
            "sum(rate(r{$service, code=~\"5..\"}[$window])) / sum(rate(r{$service}[$window]))",
            Duration::from_secs(30 * 86_400),
        )
        .expect("recordable");
        let labels: Vec<&str> = rules.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["30d", "5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
        let by = |label: &str| rules.iter().find(|(l, _)| l == label).map(|(_, r)| r);
        let five = by("5m").expect("5m");
        assert_eq!(
            five.record,
            "rollout_console:availability:error_ratio_rate5m"
        );
        assert_eq!(
            five.expr,
            "(sum by (rollout) (rate(r{rollout!=\"\", env=\"prod\", code=~\"5..\"}[5m])) / \
             sum by (rollout) (rate(r{rollout!=\"\", env=\"prod\"}[5m]))) >= 0"
        );
        let month = by("30d").expect("30d");
        let base = format!(
            "rollout_console:availability:error_ratio_rate5m{{rollout!=\"\", rollout_console_query=\"{}\"}}",
            five.digest
        );
        assert_eq!(
            month.expr,
            format!("sum_over_time({base}[30d]) / count_over_time({base}[30d])")
        );
        assert!(by("6h").is_some_and(|r| r.expr.contains("[6h]")));
    }

    #[test]
    fn the_file_lists_the_five_minute_rule_before_the_means_and_says_what_is_left_out() {
        let plan = RulesPlan {
            source: "config.toml".into(),
            interval: Duration::from_secs(5),
            slo_interval: Duration::from_secs(30),
            metrics: vec![
                (
                    "rate".into(),
                    metric_rule(
                        FLEET,
                        "rate",
                        "sum(rate(x{$selector}[$window]))",
                        Duration::from_secs(60),
                    ),
                ),
                (
                    "raw".into(),
                    metric_rule(FLEET, "raw", "x{$selector}", Duration::from_secs(60)),
                ),
            ],
            slos: vec![(
                "availability".into(),
                slo_rules(
                    FLEET,
                    "availability",
                    "sum(rate(e{$service}[$window])) / sum(rate(r{$service}[$window]))",
                    Duration::from_secs(28 * 86_400),
                ),
            )],
        };
        let yaml = rules_yaml(&plan);
        assert!(yaml.contains("# not recorded: metric \"raw\": its query cannot be asked"));
        assert!(yaml.contains("    interval: 5s\n"));
        let at = |needle: &str| yaml.find(needle).unwrap_or(usize::MAX);
        assert!(
            at("record: rollout_console:availability:error_ratio_rate5m")
                < at("record: rollout_console:availability:error_ratio_rate4w")
        );
        assert_eq!(
            yaml.matches("error_ratio_rate5m\n").count(),
            1,
            "each record once"
        );
        assert_eq!(yaml.matches("      - record:").count(), 1 + 8);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("p95 latency"), "p95_latency");
        assert_eq!(slug("  Error-Rate (5xx) "), "error_rate_5xx");
        assert_eq!(slug("—"), "unnamed");
    }
}
