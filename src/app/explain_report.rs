//! The report of `rollout-console explain`: every query of the config as sent, run once, with
//! its value, its number of series, the engine's error, or why it answered with nothing; as
//! plain text that reads at 80 columns, or as JSON. Built by `setup::explain`; pure here.

use serde::Serialize;

use crate::metrics::diagnose::QueryAnswer;

/// Exit codes: every query answered with data, or not (2, a usage or config error, is `main`'s).
pub const EXIT_ALL_DATA: u8 = 0;
pub const EXIT_NOT_ALL_DATA: u8 = 1;

const WIDTH: usize = 80;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainReport {
    pub rollout: String,
    /// The Prometheus base URL, without credentials.
    pub prometheus: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// How the tracks were chosen, and anything that stopped one from being (pod hashes unread).
    pub notes: Vec<String>,
    /// Prometheus could not be reached at all: nothing was run.
    pub unreachable: Option<String>,
    pub sections: Vec<Section>,
}

/// One `[[metrics]]` or `[[slos]]` entry and its queries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// `metric` or `slo`.
    pub kind: String,
    pub name: String,
    pub queries: Vec<Explained>,
}

/// One query as sent and its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explained {
    /// What it is: `baseline`, `canary`, `histogram canary`, `over 30d`, …
    pub label: String,
    /// The PromQL as sent (empty when it could not be rendered).
    pub promql: String,
    pub answer: QueryAnswer,
    /// The console reads one series from it (a metric's query per track, an SLO's ratio).
    pub one_series: bool,
}

impl Explained {
    /// Answered with data the console can use.
    pub fn ok(&self) -> bool {
        match &self.answer {
            QueryAnswer::Data { series, .. } => !self.one_series || *series == 1,
            _ => false,
        }
    }
}

impl ExplainReport {
    pub fn queries(&self) -> impl Iterator<Item = &Explained> {
        self.sections.iter().flat_map(|s| s.queries.iter())
    }

    /// 0 when every query answered with data, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.unreachable.is_none() && self.queries().all(Explained::ok) {
            EXIT_ALL_DATA
        } else {
            EXIT_NOT_ALL_DATA
        }
    }
}

/// A value in few characters: 4 significant digits, or scientific when tiny or huge.
pub fn value_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(0.001..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let digits = if a >= 1000.0 {
        0
    } else if a >= 100.0 {
        1
    } else if a >= 10.0 {
        2
    } else {
        4
    };
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `text` wrapped at `WIDTH` with every line indented by `indent` spaces; breaks after spaces
/// and commas, and inside a word longer than a line.
pub fn wrap(text: &str, indent: usize) -> String {
    let room = WIDTH.saturating_sub(indent).max(20);
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_inclusive([' ', ',']) {
        if line.chars().count() + word.trim_end().chars().count() > room && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut word = word.to_string();
        while word.chars().count() > room {
            let cut: String = word.chars().take(room).collect();
            word = word.chars().skip(room).collect();
            lines.push(cut);
        }
        line.push_str(&word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
        .iter()
        .map(|l| format!("{pad}{}", l.trim_end()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn answer_line(q: &Explained) -> String {
    match &q.answer {
        QueryAnswer::Data { series, value } => {
            let value = value.map_or_else(|| "-".into(), value_text);
            let count = if *series == 1 {
                "1 series".to_string()
            } else {
                format!("{series} series")
            };
            if q.one_series && *series != 1 {
                format!("{value} ({count}; the console needs one: aggregate it, e.g. sum(...))")
            } else if value == "NaN" {
                format!("{value} ({count}; NaN is 0/0: no requests in the window)")
            } else {
                format!("{value} ({count})")
            }
        }
        QueryAnswer::Empty { .. } => "NO DATA".into(),
        QueryAnswer::Error { .. } => "ERROR".into(),
    }
}

/// The report as plain text.
pub fn render_text(r: &ExplainReport) -> String {
    let mut out = String::new();
    let head = format!(
        "explain {} · Prometheus at {} · {}",
        r.rollout,
        r.prometheus,
        r.at.format("%Y-%m-%dT%H:%M:%SZ")
    );
    out.push_str(&wrap(&head, 0));
    out.push('\n');
    for note in &r.notes {
        out.push_str(&wrap(note, 0));
        out.push('\n');
    }
    if let Some(why) = &r.unreachable {
        // One line, unwrapped: what a CI log greps for.
        out.push_str(&format!("nothing was run: {why}\n"));
        return out;
    }
    for s in &r.sections {
        let head = match s.kind.as_str() {
            "slo" => format!("\n[[slos]] {:?}\n", s.name),
            "recorded" => format!("\n[fleet] recorded: {}\n", s.name),
            _ => format!("\n[[metrics]] {:?}\n", s.name),
        };
        out.push_str(&head);
        for q in &s.queries {
            let label = format!("  {:<18} ", q.label);
            out.push_str(&format!("{label}{}\n", answer_line(q)));
            if !q.promql.is_empty() {
                out.push_str(&wrap(&q.promql, 4));
                out.push('\n');
            }
            match &q.answer {
                QueryAnswer::Empty { why } => {
                    for finding in why {
                        out.push_str(&wrap(&format!("why: {finding}"), 4));
                        out.push('\n');
                    }
                }
                QueryAnswer::Error { error } => {
                    out.push_str(&wrap(&format!("error: {error}"), 4));
                    out.push('\n');
                }
                QueryAnswer::Data { .. } => {}
            }
        }
    }
    let total = r.queries().count();
    let ok = r.queries().filter(|q| q.ok()).count();
    let empty = r
        .queries()
        .filter(|q| matches!(q.answer, QueryAnswer::Empty { .. }))
        .count();
    let errors = r
        .queries()
        .filter(|q| matches!(q.answer, QueryAnswer::Error { .. }))
        .count();
    out.push_str(&format!(
        "\n{total} queries: {ok} with data, {empty} with no data, {errors} failed\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::diagnose::Finding;

    fn report(answers: Vec<(QueryAnswer, bool)>) -> ExplainReport {
        ExplainReport {
            rollout: "checkout".into(),
            prometheus: "http://127.0.0.1:9090".into(),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
            notes: vec![],
            unreachable: None,
            sections: vec![Section {
                kind: "metric".into(),
                name: "error rate".into(),
                queries: answers
                    .into_iter()
                    .map(|(answer, one_series)| Explained {
                        label: "canary".into(),
                        promql: format!(
                            "sum(rate(http_requests_total{{job=\"checkout\", {}}}[1m]))",
                            "track=\"canary\"".repeat(4)
                        ),
                        answer,
                        one_series,
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn values_read_short() {
        assert_eq!(value_text(0.18412345), "0.1841");
        assert_eq!(value_text(12.0), "12");
        assert_eq!(value_text(250.25), "250.2");
        assert_eq!(value_text(0.00021), "2.100e-4");
        assert_eq!(value_text(f64::NAN), "NaN");
        assert_eq!(value_text(0.0), "0");
    }

    #[test]
    fn the_exit_code_is_0_only_when_every_query_has_usable_data() {
        let data = |series| QueryAnswer::Data {
            series,
            value: Some(1.0),
        };
        assert_eq!(
            report(vec![(data(1), true), (data(12), false)]).exit_code(),
            0
        );
        assert_eq!(report(vec![(data(2), true)]).exit_code(), 1);
        let empty = QueryAnswer::Empty {
            why: vec![Finding::OperatorsDropAll],
        };
        assert_eq!(report(vec![(data(1), true), (empty, true)]).exit_code(), 1);
        let mut unreachable = report(vec![(data(1), true)]);
        unreachable.unreachable = Some("cannot reach Prometheus".into());
        assert_eq!(unreachable.exit_code(), 1);
        assert!(render_text(&unreachable).contains("nothing was run: cannot reach Prometheus"));
    }

    #[test]
    fn the_text_fits_80_columns_and_says_why() {
        let empty = QueryAnswer::Empty {
            why: vec![Finding::MetricMissing {
                name: "http_request_total".into(),
                close: vec!["http_requests_total".into()],
            }],
        };
        let error = QueryAnswer::Error {
            error: "1:5: parse error: unexpected end of input".into(),
        };
        let nan = QueryAnswer::Data {
            series: 1,
            value: Some(f64::NAN),
        };
        let text = render_text(&report(vec![(empty, true), (error, true), (nan, true)]));
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
        assert!(text.contains("NO DATA"), "{text}");
        assert!(text.contains("did you mean http_requests_total?"), "{text}");
        assert!(
            text.contains("error: 1:5: parse error: unexpected end of input"),
            "{text}"
        );
        assert!(
            text.contains("NaN (1 series; NaN is 0/0: no requests in the window)"),
            "{text}"
        );
        assert!(
            text.contains("3 queries: 1 with data, 1 with no data, 1 failed"),
            "{text}"
        );
    }
}
