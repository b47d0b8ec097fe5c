//! The checks serde cannot make: each returns the problem in words and the span it is at; and
//! the hint for a number where a duration string belongs.

use super::{Config, JudgeKind, MetricConfig, RecordedConfig, SloConfig};

/// The keys whose values are durations (humantime strings).
const DURATION_KEYS: [&str; 6] = [
    "poll_interval",
    "timeout",
    "window",
    "warmup",
    "hold",
    "slo_refresh",
];

/// `poll_interval = 5`: a number where a duration string belongs. serde only says "expected a
/// string", so look at the key the value at `offset` belongs to.
pub(super) fn is_unquoted_duration(text: &str, offset: usize, message: &str) -> bool {
    if !(message.contains("invalid type: integer") || message.contains("invalid type: float")) {
        return false;
    }
    let before = &text[..offset.min(text.len())];
    let key = before
        .trim_end()
        .strip_suffix('=')
        .unwrap_or("")
        .rsplit(['\n', '{', ','])
        .next()
        .unwrap_or("")
        .trim();
    DURATION_KEYS.contains(&key)
}

pub(super) type Invalid = (String, Option<std::ops::Range<usize>>);

pub(super) fn validate(c: &Config) -> Result<(), Invalid> {
    if c.poll_interval.is_zero() {
        return Err((
            "poll_interval must be more than 0 (e.g. \"5s\")".into(),
            None,
        ));
    }
    for m in &c.metrics {
        if m.name.trim().is_empty() {
            return Err((
                "a [[metrics]] entry has an empty name".into(),
                Some(m.query.span()),
            ));
        }
        validate_judge(m)?;
        crate::metrics::template::check(m.query.get_ref()).map_err(|e| {
            (
                format!("[[metrics]] {:?}: query: {e}", m.name),
                Some(m.query.span()),
            )
        })?;
    }
    if !(c.judge.alpha > 0.0 && c.judge.alpha <= 0.5) {
        return Err((
            format!(
                "[judge] alpha must be a probability above 0 and at most 0.5 (e.g. 0.01), got {}",
                c.judge.alpha
            ),
            None,
        ));
    }
    if let Some(p) = &c.prometheus {
        let rate = *p.max_queries_per_second.get_ref();
        if !(rate.is_finite() && rate > 0.0) {
            return Err((
                format!(
                    "[prometheus] max_queries_per_second must be more than 0 (e.g. {}), got {rate}",
                    crate::metrics::budget::DEFAULT_MAX_QUERIES_PER_SECOND
                ),
                Some(p.max_queries_per_second.span()),
            ));
        }
    }
    for s in &c.slos {
        if !(0.0..100.0).contains(&s.objective) || s.objective <= 0.0 {
            let why = format!(
                "[[slos]] {:?}: objective {} must be a percent between 0 and 100 (e.g. 99.95)",
                s.name, s.objective
            );
            return Err((why, Some(s.error_ratio.span())));
        }
        crate::metrics::template::check(s.error_ratio.get_ref()).map_err(|e| {
            (
                format!("[[slos]] {:?}: error_ratio: {e}", s.name),
                Some(s.error_ratio.span()),
            )
        })?;
        validate_recorded(s)?;
    }
    if let Some(label) = &c.fleet.group_by {
        let mut chars = label.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err((
                format!(
                    "[fleet] group_by = {label:?} is not a label name: name the label that \
                     holds the rollout's name in every series, e.g. group_by = \"rollout\""
                ),
                None,
            ));
        }
    }
    if let Some(recorded) = &c.fleet.recorded
        && *recorded.get_ref()
        && (c.fleet.group_by.is_none() || c.fleet.service.is_none())
    {
        return Err((
            "[fleet] recorded = true reads the recording rules of a grouped fleet: set \
             group_by (the label holding the rollout's name) and service (e.g. \
             service = 'rollout=\"$rollout\"') in [fleet], then write the rules with \
             `rollout-console rules`"
                .into(),
            Some(recorded.span()),
        ));
    }
    if let Some(service) = &c.fleet.service {
        // Only `$rollout` has a value when a listed rollout's selectors are made.
        let vars = crate::metrics::template::Vars {
            rollout: Some("x"),
            ..Default::default()
        };
        crate::metrics::template::render(service.get_ref(), &vars).map_err(|e| {
            (
                format!(
                    "[fleet] service: {e}; it is label matchers with $rollout as the only \
                     variable, e.g. service = 'app=\"$rollout\"'"
                ),
                Some(service.span()),
            )
        })?;
        // Grouped queries match the fleet by `group_by`: the service must name the rollout by it.
        if let Some(label) = &c.fleet.group_by
            && crate::metrics::grouped::members_selector(service.get_ref(), label, &["x".into()])
                .is_none()
        {
            return Err((
                format!(
                    "[fleet] service must match the rollout's name by the group_by label, as \
                     {label}=\"$rollout\" (other matchers may follow): grouped queries ask \
                     for every rollout with {label}=~\"a|b|…\""
                ),
                Some(service.span()),
            ));
        }
    }
    Ok(())
}

/// An SLO's recorded series: templates that render, a single one with `$window` in it, a
/// table by the SLO's window labels.
fn validate_recorded(s: &SloConfig) -> Result<(), Invalid> {
    let Some(recorded) = &s.recorded else {
        return Ok(());
    };
    let fail = |why: String| {
        Err((
            format!("[[slos]] {:?}: recorded: {why}", s.name),
            Some(recorded.span()),
        ))
    };
    let labels = s.window_labels();
    let own = crate::metrics::template::prom_label(s.window);
    match recorded.get_ref() {
        RecordedConfig::Template(t) => {
            if let Err(e) = crate::metrics::template::check(t) {
                return fail(e);
            }
            if !(t.contains("$window") || t.contains("${window}")) {
                return fail(
                    "one template needs $window where the window's label goes (e.g. \
                     slo:sli_error:ratio_rate$window{sloth_slo=\"availability\"}); for names \
                     without one pattern give a table: recorded = { \"5m\" = \"…\", … }"
                        .into(),
                );
            }
        }
        RecordedConfig::ByWindow(table) => {
            for (label, t) in table {
                if !labels.contains(label) && *label != own {
                    return fail(format!(
                        "no window {label:?}; the windows are {}",
                        labels.join(", ")
                    ));
                }
                if let Err(e) = crate::metrics::template::check(t) {
                    return fail(format!("{label}: {e}"));
                }
            }
        }
    }
    Ok(())
}

/// A metric's judge and counters: the keys that go together, and the templates they hold.
fn validate_judge(m: &MetricConfig) -> Result<(), Invalid> {
    let fail = |why: String, span: std::ops::Range<usize>| -> Result<(), Invalid> {
        Err((format!("[[metrics]] {:?}: {why}", m.name), Some(span)))
    };
    let counters = [
        ("histogram", &m.histogram),
        ("errors", &m.errors),
        ("total", &m.total),
    ];
    for (key, template) in counters {
        let Some(template) = template else { continue };
        if template.get_ref().contains("$window") || template.get_ref().contains("${window}") {
            return fail(
                format!(
                    "{key}: counters are read raw and counted exactly, so no $window and no \
                     rate(): give the series itself, e.g. http_requests_total{{$selector}}"
                ),
                template.span(),
            );
        }
        if let Err(e) = crate::metrics::template::check(template.get_ref()) {
            return fail(format!("{key}: {e}"), template.span());
        }
    }
    match (&m.histogram, &m.errors, &m.total) {
        (Some(h), Some(_), _) | (Some(h), _, Some(_)) => {
            return fail(
                "give either histogram (latency) or errors and total (a ratio), not both".into(),
                h.span(),
            );
        }
        (None, Some(e), None) => {
            return fail(
                "errors needs total too (all requests, e.g. http_requests_total{$selector})".into(),
                e.span(),
            );
        }
        (None, None, Some(t)) => {
            return fail(
                "total needs errors too (failed requests, e.g.                  http_requests_total{$selector, code=~\"5..\"})"
                    .into(),
                t.span(),
            );
        }
        _ => {}
    }
    if m.gate.min_requests.is_some() && m.counters().is_none() {
        return fail(
            "gate min_requests needs the requests counted: add total (with errors) or histogram"
                .into(),
            m.query.span(),
        );
    }
    match m.judge {
        Some(JudgeKind::Sequential) => {
            if m.counters().is_none() {
                return fail(
                    "judge = \"sequential\" counts requests: add histogram = \
                     'http_request_duration_seconds_bucket{$selector}' for a latency, or errors \
                     and total for a ratio"
                        .into(),
                    m.query.span(),
                );
            }
            if m.confidence.is_some() {
                return fail(
                    "confidence is a Mann–Whitney key; the sequential judge's level is [judge] \
                     alpha"
                        .into(),
                    m.query.span(),
                );
            }
            if let Some(settings) = m.sequential_settings()
                && let Err(e) = settings.validate()
            {
                return fail(format!("judge: {e}"), m.query.span());
            }
        }
        Some(JudgeKind::MannWhitney) => {
            if m.warmup.is_some() || m.tolerance.is_some() {
                return fail(
                    "warmup and tolerance are keys of judge = \"sequential\"".into(),
                    m.query.span(),
                );
            }
            if let Some(settings) = m.judge_settings()
                && let Err(e) = settings.validate()
            {
                return fail(format!("judge: {e}"), m.query.span());
            }
        }
        None => {
            if m.confidence.is_some()
                || m.direction.is_some()
                || m.allowed_increase.is_some()
                || m.allowed_decrease.is_some()
                || m.min_samples.is_some()
                || m.warmup.is_some()
                || m.tolerance.is_some()
                || m.critical
            {
                return fail(
                    "judge keys without a judge: add judge = \"sequential\" (or \
                     \"mann-whitney\")"
                        .into(),
                    m.query.span(),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn slos_take_recorded_series_as_one_template_or_a_table() {
        let head = "[[slos]]\nname = \"availability\"\nobjective = 99.9\nwindow = \"30d\"\nerror_ratio = 'x[$window]'\n";
        let sloth = format!(
            "{head}recorded = 'slo:sli_error:ratio_rate$window{{sloth_service=\"checkout\", sloth_slo=\"availability\"}}'\n"
        );
        let c = parse(&sloth, Path::new("c.toml")).expect("sloth");
        let by_window = c.slos[0].recorded_by_window();
        let labels: Vec<&str> = by_window.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["30d", "5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
        assert!(
            by_window
                .iter()
                .all(|(_, t)| t.starts_with("slo:sli_error:ratio_rate$window{"))
        );

        let pyrra = format!(
            "{head}recorded = {{ \"5m\" = 'http_requests:burnrate5m{{slo=\"availability\"}}', \"1h\" = 'http_requests:burnrate1h{{slo=\"availability\"}}' }}\n"
        );
        let c = parse(&pyrra, Path::new("c.toml")).expect("pyrra");
        assert_eq!(
            c.slos[0].recorded_by_window(),
            [
                (
                    "1h".to_string(),
                    r#"http_requests:burnrate1h{slo="availability"}"#.to_string()
                ),
                (
                    "5m".to_string(),
                    r#"http_requests:burnrate5m{slo="availability"}"#.to_string()
                ),
            ]
        );
        let none = parse(head, Path::new("c.toml")).expect("none");
        assert!(none.slos[0].recorded_by_window().is_empty());

        let no_window = format!("{head}recorded = 'slo:sli_error:ratio_rate5m'\n");
        let err = parse(&no_window, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.starts_with("config error in c.toml:6:12: [[slos]] \"availability\": recorded: one template needs $window"),
            "{err}"
        );
        let bad_label = format!("{head}recorded = {{ \"4d\" = 'x' }}\n");
        let err = parse(&bad_label, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.contains("c.toml:6:12")
                && err.contains("no window \"4d\"; the windows are 30d, 5m, 30m"),
            "{err}"
        );
        let typo = format!("{head}recorded = 'x$windw'\n");
        let err = parse(&typo, Path::new("c.toml")).unwrap_err().0;
        assert!(err.contains("unknown template variable $windw"), "{err}");
    }

    #[test]
    fn a_number_for_a_duration_says_durations_are_strings() {
        let err = parse("poll_interval = 5\n", Path::new("c.toml"))
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("config error in c.toml:1:17")
                && err.contains("durations are strings like \"5s\""),
            "{err}"
        );
        let text = "[[metrics]]\nname = \"p95\"\nquery = 'q{$selector}'\nwindow = 60\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.contains("c.toml:4:10") && err.contains("durations are strings"),
            "{err}"
        );
        // Not every number is a misplaced duration.
        let err = parse(
            "[policy]\nmin_budget_to_promote = \"10\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .0;
        assert!(!err.contains("durations are strings"), "{err}");
    }

    #[test]
    fn an_unknown_template_variable_names_the_metric_and_its_place() {
        let text = "[[metrics]]\nname = \"p95\"\nquery = 'rate(x{$selectr}[$window])'\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.starts_with("config error in c.toml:3:9: [[metrics]] \"p95\": query:"),
            "{err}"
        );
        assert!(
            err.contains("$selectr") && err.contains("$selector"),
            "{err}"
        );
    }

    #[test]
    fn sequential_keys_are_checked_with_their_location() {
        let base = "[[metrics]]\nname = \"p95\"\nquery = 'q{$selector}'\n";
        let err = |extra: &str| {
            parse(&format!("{base}{extra}"), Path::new("c.toml"))
                .unwrap_err()
                .0
        };
        let e = err("judge = \"sequential\"\n");
        assert!(
            e.starts_with("config error in c.toml:3:9: [[metrics]] \"p95\": judge = \"sequential\" counts requests"),
            "{e}"
        );
        let e = err("judge = \"sequential\"\nhistogram = 'rate(h_bucket{$selector}[$window])'\n");
        assert!(
            e.contains("c.toml:5:13") && e.contains("no $window and no rate()"),
            "{e}"
        );
        let e = err("errors = 'e{$selector}'\n");
        assert!(e.contains("errors needs total too"), "{e}");
        let e = err("gate = { max = 0.01, min_requests = 20 }\n");
        assert!(e.contains("min_requests needs the requests counted"), "{e}");
        let e = err("warmup = \"30s\"\n");
        assert!(e.contains("add judge = \"sequential\""), "{e}");
        let e = err("judge = \"sequential\"\nhistogram = 'h{$selector}'\nallowed_increase = 1.0\n");
        assert!(
            e.contains("allowed_increase must be a factor above 1"),
            "{e}"
        );
        let e = parse("[judge]\nalpha = 0.9\n", Path::new("c.toml"))
            .unwrap_err()
            .0;
        assert!(e.contains("[judge] alpha must be a probability"), "{e}");
        let ok = format!(
            "{base}judge = \"sequential\"\nhistogram = 'h{{$selector}}'\nwarmup = \"30s\"\n"
        );
        let c = parse(&ok, Path::new("c.toml")).expect("valid");
        assert_eq!(
            c.metrics[0].sequential_settings().map(|s| s.warmup),
            Some(Duration::from_secs(30))
        );
    }
}
