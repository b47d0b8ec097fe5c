use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::Model;
use crate::app::explain::{Tone, why};
use crate::app::model::STALE_AFTER_POLLS;
use crate::domain::RolloutState;
use crate::domain::format::short_duration;

fn state_symbol(state: RolloutState) -> &'static str {
    match state {
        RolloutState::Progressing => "▶",
        RolloutState::Paused => "‖",
        RolloutState::Completed => "✓",
        RolloutState::RolledBack => "↩",
        RolloutState::Failed => "✗",
    }
}

fn state_tone(state: RolloutState) -> Tone {
    match state {
        RolloutState::Progressing => Tone::Neutral,
        RolloutState::Paused => Tone::Warn,
        RolloutState::Completed => Tone::Good,
        RolloutState::RolledBack | RolloutState::Failed => Tone::Bad,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme, wide: bool) {
    let mut spans = vec![Span::styled(
        format!(" {} ", model.settings.rollout_name),
        theme.bold(),
    )];
    if let Some(r) = &model.rollout {
        spans.push(Span::raw(format!(
            "{} → {}  ",
            r.stable_version, r.canary_version
        )));
        spans.push(Span::styled(
            format!("{} {}", state_symbol(r.state), r.state.label()),
            theme
                .tone(state_tone(r.state))
                .add_modifier(ratatui::style::Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(
            "  step {}/{} · {}%",
            (r.step + 1).min(r.steps.len()),
            r.steps.len(),
            r.canary_weight
        )));
    } else {
        spans.push(Span::styled("no rollout data yet", theme.dim()));
    }
    let mut tail = Vec::new();
    if model.settings.read_only {
        tail.push(Span::raw("  "));
        tail.push(Span::styled(" READ-ONLY ", theme.badge()));
    }
    let stale_after = model.settings.poll_interval * STALE_AFTER_POLLS;
    match model.last_poll_age() {
        Some(age) if age > stale_after => tail.push(Span::styled(
            format!("  STALE: last poll {} ago", short_duration(age)),
            theme.tone(Tone::Bad),
        )),
        Some(age) => tail.push(Span::styled(
            format!("  polled {} ago", short_duration(age)),
            theme.dim(),
        )),
        None => tail.push(Span::styled("  not polled yet", theme.dim())),
    }
    // The judge's word, as long as it fits beside the rest.
    if let Some((forms, tone)) = judge_forms(model) {
        let used: usize = spans.iter().chain(&tail).map(Span::width).sum();
        let room = (area.width as usize).saturating_sub(used);
        if let Some(text) = forms.into_iter().find(|f| f.chars().count() <= room) {
            spans.push(Span::styled(text, theme.tone(tone)));
        }
    }
    spans.extend(tail);
    if wide {
        spans.push(Span::styled(
            format!("  · {}", model.settings.source_label),
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The judges' verdict for the header, longest form first: the worst sequential verdict and its
/// metric, or the Mann–Whitney score ("collecting" until it has its samples, never "0/100").
fn judge_forms(model: &Model) -> Option<(Vec<String>, Tone)> {
    use crate::domain::Verdict;
    if let Some((verdict, metric)) = model.sequential_summary() {
        let tone = match verdict {
            Verdict::Fail => Tone::Bad,
            Verdict::Pass => Tone::Good,
            Verdict::Warn | Verdict::NoData | Verdict::Pending => Tone::Warn,
            Verdict::Collecting => Tone::Neutral,
        };
        let word = match verdict {
            Verdict::Collecting => "collecting".to_string(),
            v => format!("{} {}", v.symbol(), v.label()),
        };
        let forms = vec![
            format!("  judge {word} ({metric})"),
            format!("  judge {word}"),
            format!("  judge {}", verdict.symbol()),
        ];
        let forms = if verdict == Verdict::Pass || verdict == Verdict::Collecting {
            forms[1..].to_vec()
        } else {
            forms
        };
        return Some((forms, tone));
    }
    let sc = model.judge_score()?;
    if model.judge_collecting() {
        return Some((
            vec!["  judge collecting".into(), "  judge …".into()],
            Tone::Neutral,
        ));
    }
    let tone = match sc.overall {
        crate::domain::judge::Overall::Pass => Tone::Good,
        crate::domain::judge::Overall::Inconclusive => Tone::Warn,
        crate::domain::judge::Overall::Fail => Tone::Bad,
    };
    Some((vec![format!("  judge {:.0}/100", sc.score + 0.0)], tone))
}

pub fn draw_why(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let (tone, text) = why(model);
    let line = Line::from(vec![
        Span::styled(" » ", theme.dim()),
        Span::styled(text, theme.tone(tone)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}
