//! Enter on a metric: everything behind its verdict, whole — every reason, the gate's and the
//! judges' figures, the queries as sent, the last error verbatim — wrapped, never cut.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::Theme;
use crate::app::Model;
use crate::app::model::{Freshness, MetricPanel};
use crate::domain::format::{age, short_duration};
use crate::domain::gate::{ForSpec, Gate, Severity};
use crate::domain::sequential::{detail, evidence_text, headline};

/// `text` broken at spaces into rows of at most `width` characters; a word longer than a row
/// (a PromQL query, a URL) is broken inside. Every character is kept.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let sep = usize::from(len > 0);
        if len + sep + word.len() > width && len > 0 {
            rows.push(std::mem::take(&mut row));
            len = 0;
        } else if sep == 1 {
            row.push(' ');
            len += 1;
        }
        while word.len() > width - len {
            let rest = word.split_off(width - len);
            row.extend(word);
            rows.push(std::mem::take(&mut row));
            len = 0;
            word = rest;
        }
        len += word.len();
        row.extend(word);
    }
    rows.push(row);
    rows
}

/// Rows of a view being built: headings, and paragraphs wrapped under an indent.
pub struct Rows<'t> {
    pub width: usize,
    pub lines: Vec<Line<'static>>,
    theme: &'t Theme,
}

impl<'t> Rows<'t> {
    pub fn new(width: usize, theme: &'t Theme) -> Self {
        Self {
            width,
            lines: Vec::new(),
            theme,
        }
    }

    fn heading(&mut self, text: &str) {
        if !self.lines.is_empty() {
            self.lines.push(Line::raw(""));
        }
        self.lines.push(Line::from(Span::styled(
            text.to_string(),
            self.theme.bold(),
        )));
    }

    /// `lead` on the first row (e.g. `• `, `canary: `), the rest indented under the text.
    pub fn item(&mut self, indent: usize, lead: &str, text: &str, style: Style) {
        let lead_len = lead.chars().count();
        let room = self.width.saturating_sub(indent + lead_len).max(8);
        for (i, row) in wrap(text, room).into_iter().enumerate() {
            let pad = if i == 0 {
                format!("{}{lead}", " ".repeat(indent))
            } else {
                " ".repeat(indent + lead_len)
            };
            self.lines.push(Line::from(vec![
                Span::styled(pad, self.theme.dim()),
                Span::styled(row, style),
            ]));
        }
    }
}

fn severity_text(s: Severity) -> &'static str {
    match s {
        Severity::Rollback => "rollback (a FAIL advises rolling back)",
        Severity::Hold => "hold (a FAIL blocks promotion)",
        Severity::Warn => "warn (shown, never blocks)",
    }
}

/// The gate's limits as configured: `max 2.50s · max ratio ×1.5 · for 2 checks`.
fn limits(gate: &Gate, unit: crate::domain::Unit) -> String {
    let mut out = Vec::new();
    if let Some(v) = gate.max {
        out.push(format!("canary at most {}", unit.format(v)));
    }
    if let Some(v) = gate.min {
        out.push(format!("canary at least {}", unit.format(v)));
    }
    if let Some(v) = gate.max_increase_pct {
        out.push(format!("at most +{v}% over baseline"));
    }
    if let Some(v) = gate.max_ratio {
        out.push(format!("at most ×{v} baseline"));
    }
    if let Some(v) = gate.max_delta {
        out.push(format!("at most {} over baseline", unit.format_delta(v)));
    }
    if let Some(v) = gate.min_decrease_pct {
        out.push(format!("at least {v}% under baseline"));
    }
    if let Some(v) = gate.min_ratio {
        out.push(format!("at least ×{v} baseline"));
    }
    if let Some(v) = gate.min_baseline {
        out.push(format!(
            "relative checks only when baseline ≥ {}",
            unit.format(v)
        ));
    }
    if let Some(v) = gate.min_requests {
        out.push(format!("judged on at least {v:.0} canary requests"));
    }
    if out.is_empty() {
        return "none (the judges decide)".into();
    }
    out.push(match gate.for_ {
        ForSpec::Checks(1) => "on one check".into(),
        ForSpec::Checks(n) => format!("for {n} checks in a row"),
        ForSpec::Duration(d) => format!("for {}", short_duration(d)),
    });
    out.join(" · ")
}

/// Every row of the detail of `p` (the `index`-th panel), at `width` columns.
pub fn lines<'t>(
    model: &Model,
    index: usize,
    p: &MetricPanel,
    width: usize,
    theme: &'t Theme,
) -> Rows<'t> {
    let mut rows = Rows::new(width, theme);
    let text = Style::default();
    let verdict = p.verdict();
    rows.item(
        1,
        "Verdict: ",
        &format!(
            "{} {} · severity {}",
            verdict.symbol(),
            verdict.label(),
            severity_text(p.severity())
        ),
        theme.verdict(verdict),
    );
    let fresh = match p.freshness(model.now, model.settings.poll_interval) {
        Freshness::Live => match p.last_good {
            Some(t) => format!(
                "live; last answer {} ago",
                short_duration(age(t, model.now))
            ),
            None => "live".into(),
        },
        Freshness::Stale { age, why } => format!("STALE for {}: {why}", short_duration(age)),
        Freshness::Error(_) => "the last query failed (below); the figures are older".into(),
        Freshness::Waiting => "waiting for the first answer".into(),
    };
    rows.item(1, "Data: ", &fresh, text);
    let no_data = matches!(
        p.freshness(model.now, model.settings.poll_interval),
        Freshness::Waiting
    );
    // What each query answers and why one answers with nothing, outside the console.
    let explain = format!(
        "run: rollout-console explain --rollout {}",
        model.current().name
    );
    match &p.empty {
        // Why, whole: `explain`'s words on this metric's empty track, each finding wrapped.
        Some(empty) => {
            let (headline, findings) = super::metrics::empty_detail(empty);
            rows.item(1, "Why no data: ", &headline, text);
            for finding in &findings {
                rows.item(3, "• ", finding, text);
            }
            rows.item(3, "", &explain, theme.dim());
        }
        None if no_data => rows.item(1, "Why no data: ", &explain, theme.dim()),
        None => {}
    }

    rows.heading(" Why");
    let reasons = model
        .gate_evaluations()
        .into_iter()
        .nth(index)
        .map(|(_, e)| e.reasons)
        .unwrap_or_default();
    if reasons.is_empty() {
        rows.item(2, "", "no reason given yet", theme.dim());
    }
    for r in &reasons {
        rows.item(2, "• ", r, text);
    }

    rows.heading(" Gate");
    let unit = p.def.unit;
    let value = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| unit.format(v));
    rows.item(2, "limits: ", &limits(&p.def.gate, unit), text);
    match &p.eval {
        Some(e) => {
            let mut figures = format!(
                "baseline {} · canary {}",
                value(e.baseline),
                value(e.canary)
            );
            if let Some(t) = e.threshold {
                figures.push_str(&format!(" · limit now {}", unit.format(t)));
            }
            figures.push_str(&format!(
                " · {}/{} checks over the limit",
                e.violating_points, e.required_points
            ));
            if let Some(n) = e.canary_requests {
                figures.push_str(&format!(" · {n:.0} canary requests"));
            }
            rows.item(2, "now: ", &figures, text);
        }
        None => rows.item(2, "now: ", "not evaluated yet", theme.dim()),
    }

    if let Some(settings) = p.sequential.as_ref() {
        rows.heading(" Sequential judge (request counts)");
        match (&p.counts_error, p.sequential_shown()) {
            (Some(_), _) => rows.item(2, "", "no result: counting failed (below)", theme.dim()),
            (None, None) => rows.item(2, "", "waiting for the first request counts", theme.dim()),
            (None, Some(r)) => {
                rows.item(2, "", &headline(r, settings), text);
                rows.item(
                    2,
                    "evidence: ",
                    &format!(
                        "{} of {:.1} needed for a FAIL (peak {})",
                        evidence_text(r.evidence),
                        r.threshold,
                        evidence_text(r.peak_evidence)
                    ),
                    text,
                );
                rows.item(2, "counted: ", &detail(r, settings), text);
            }
        }
        if let Some((since, whole)) = p.counted_since {
            let scope = if whole {
                "the canary's first step"
            } else {
                "the current step only: the backend reports no earlier steps"
            };
            rows.item(
                2,
                "since: ",
                &format!("{} UTC ({scope})", since.format("%H:%M:%S")),
                text,
            );
        }
    }

    if p.judge.is_some() {
        rows.heading(" Statistical judge (Mann–Whitney)");
        match &p.judge_result {
            Some(j) => {
                rows.item(
                    2,
                    "",
                    &format!("{}: {}", j.classification.label(), j.reason),
                    text,
                );
                let mut figures = Vec::new();
                if let Some(pv) = j.p_value {
                    figures.push(format!("p-value {pv:.4}"));
                }
                if let Some((lo, mid, hi)) = j.shift {
                    figures.push(format!(
                        "shift {} ({} to {})",
                        unit.format_delta(mid),
                        unit.format_delta(lo),
                        unit.format_delta(hi)
                    ));
                }
                if let Some(m) = j.mean_ratio {
                    figures.push(format!("mean ratio ×{m:.2}"));
                }
                if !figures.is_empty() {
                    rows.item(2, "", &figures.join(" · "), text);
                }
            }
            None => rows.item(2, "", "no result yet", theme.dim()),
        }
    }

    rows.heading(" Queries sent (last poll)");
    if p.sent_queries.is_empty() {
        rows.item(2, "", "none sent yet", theme.dim());
    }
    for (what, query) in &p.sent_queries {
        rows.item(2, &format!("{what}: "), query, text);
    }

    rows.heading(" Last error");
    let bad = theme.verdict(crate::domain::Verdict::Fail);
    match (&p.error, &p.counts_error) {
        (None, None) => rows.item(2, "", "none", theme.dim()),
        (error, counts) => {
            if let Some(e) = error {
                rows.item(2, "query: ", e, bad);
            }
            if let Some(e) = counts {
                rows.item(2, "counting: ", e, bad);
            }
        }
    }
    rows
}

/// The overlay, nearly full screen; `scroll` rows down, stopping at the last page.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    model: &Model,
    index: usize,
    scroll: usize,
    theme: &Theme,
) {
    let Some(p) = model.current().panels.get(index) else {
        return;
    };
    let rect = frame_of(area);
    let rows = lines(model, index, p, text_width(rect), theme).lines;
    let title = format!(" {}: {} ", p.def.name, p.verdict().label());
    draw_scrolled(frame, rect, rows, scroll, title, theme);
}

fn frame_of(area: Rect) -> Rect {
    super::layout::centered(
        area,
        area.width.saturating_sub(2).min(120),
        area.height.saturating_sub(2),
    )
}

fn text_width(rect: Rect) -> usize {
    usize::from(rect.width.saturating_sub(3))
}

/// The last `scroll` that moves the view on an `area`-sized screen: past it, only the last page.
pub fn max_scroll(model: &Model, index: usize, area: Rect) -> usize {
    let Some(p) = model.current().panels.get(index) else {
        return 0;
    };
    let rect = frame_of(area);
    let rows = lines(model, index, p, text_width(rect), &Theme { color: false })
        .lines
        .len();
    rows.saturating_sub(usize::from(rect.height.saturating_sub(2)).max(1))
}

/// A bordered box of `rows` from `scroll` (at most the last page), saying where it is.
pub fn draw_scrolled(
    frame: &mut Frame,
    rect: Rect,
    rows: Vec<Line<'static>>,
    scroll: usize,
    title: String,
    theme: &Theme,
) {
    let height = usize::from(rect.height.saturating_sub(2)).max(1);
    let top = scroll.min(rows.len().saturating_sub(height));
    let shown = rows.len().min(top + height);
    let place = if rows.len() > height {
        format!(
            " rows {}–{shown} of {} · j/k PgUp/PgDn scroll · Esc closes ",
            top + 1,
            rows.len()
        )
    } else {
        " Esc closes ".into()
    };
    let block = Block::bordered()
        .title(Span::styled(title, theme.bold()))
        .title_bottom(Line::from(Span::styled(place, theme.dim())).right_aligned());
    // The whole band, margins included: a stray character of the screen behind beside the box
    // reads as part of it.
    let band = Rect {
        x: frame.area().x,
        width: frame.area().width,
        ..rect
    };
    frame.render_widget(Clear, band);
    let visible: Vec<Line> = rows.into_iter().skip(top).take(height).collect();
    frame.render_widget(Paragraph::new(visible).block(block), rect);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_character_and_breaks_long_words() {
        assert_eq!(wrap("ab cd ef", 5), vec!["ab cd", "ef"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("a 1234567", 4), vec!["a", "1234", "567"]);
        let text = "sum(rate(x{job=\"checkout\"}[1m])) by (le) query failed: 503";
        let joined: String = wrap(text, 7).concat();
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn a_metric_without_data_points_at_explain() {
        use crate::app::model::{MetricPanel, Model, Settings};
        use crate::domain::metric::{EmptyAnswer, MetricDef};
        let settings = Settings {
            rollout_name: "checkout".into(),
            read_only: true,
            poll_interval: std::time::Duration::from_secs(5),
            min_budget_to_promote_pct: 10.0,
            actor: "alice@bastion".into(),
            ssh_client: None,
            source_label: "test".into(),
            audit_path: "/tmp/audit.jsonl".into(),
        };
        let def = MetricDef {
            name: "error rate".into(),
            unit: crate::domain::Unit::Ratio,
            gate: Default::default(),
        };
        let panel = MetricPanel::new(def, "x{$selector}".into());
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let mut model = Model::new(settings, vec![panel], vec![], now);
        let theme = crate::ui::Theme { color: false };
        let text = |model: &Model| -> String {
            let p = &model.current().panels[0];
            super::lines(model, 0, p, 80, &theme)
                .lines
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let hint = "Why no data: run: rollout-console explain --rollout checkout";
        assert!(text(&model).contains(hint), "{}", text(&model));
        model.current_mut().panels[0].empty = Some(EmptyAnswer::MetricMissing { name: "x".into() });
        let shown = text(&model);
        assert!(
            shown.contains("Why no data: no series: Prometheus has no metric named x"),
            "{shown}"
        );
        assert!(
            shown.contains("   run: rollout-console explain --rollout checkout"),
            "{shown}"
        );
        // explain's words, every finding whole, then the pointer.
        model.current_mut().panels[0].empty = Some(EmptyAnswer::Diagnosed {
            track: crate::domain::metric::EmptyTrack::Canary,
            words: vec![
                r#"label job: no series of x{track="canary"} has job="chekout"; job has: checkout"#
                    .into(),
                "second finding".into(),
            ],
        });
        let shown = text(&model);
        let expected = [
            " Why no data: no series for the canary, because:",
            r#"   • label job: no series of x{track="canary"} has job="chekout"; job has:"#,
            "     checkout",
            "   • second finding",
            "   run: rollout-console explain --rollout checkout",
        ]
        .join("\n");
        assert!(shown.contains(&expected), "{shown}");
    }
}
