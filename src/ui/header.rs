use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::Model;
use crate::app::model::{STALE_AFTER_POLLS, Tone};
use crate::domain::RolloutState;
use crate::domain::format::{self, Keep, short_duration};

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

/// One part of the header: its forms, longest first; the last is what is always shown (empty
/// when the part may go).
struct Part {
    forms: Vec<Vec<Span<'static>>>,
    chosen: usize,
}

impl Part {
    fn new(forms: Vec<Span<'static>>) -> Self {
        Self::spans(forms.into_iter().map(|f| vec![f]).collect())
    }

    fn spans(forms: Vec<Vec<Span<'static>>>) -> Self {
        let chosen = forms.len().saturating_sub(1);
        Self { forms, chosen }
    }

    fn form_width(&self, k: usize) -> usize {
        self.forms
            .get(k)
            .map_or(0, |f| f.iter().map(Span::width).sum())
    }

    fn width(&self) -> usize {
        self.form_width(self.chosen)
    }
}

/// `text` in at most `n` characters, `…` marking a cut.
fn clip(text: &str, n: usize) -> String {
    format::excerpt(text, n, Keep::Start)
}

/// The header, laid out by priority: the state word, the step, READ-ONLY, the judge's word and a
/// failing source are always shown; the other parts get shorter forms, then go, as room runs
/// out (versions first, then the rollout's name, then the ages).
pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme, wide: bool) {
    let name = &model.current().name;
    // The name cut to whatever room is left, down to 10 characters.
    let name_part = Part::new(
        (10..=name.chars().count().max(10))
            .rev()
            .map(|n| Span::styled(format!(" {} ", clip(name, n)), theme.bold()))
            .collect(),
    );
    let (versions, state, step) = match &model.current().rollout {
        Some(r) => (
            Part::new(vec![
                Span::raw(format!("{} → {}  ", r.stable_version, r.canary_version)),
                Span::raw(format!("→ {}  ", r.canary_version)),
                Span::raw(format!("→ {}  ", clip(&r.canary_version, 12))),
                Span::raw(""),
            ]),
            Part::new(vec![Span::styled(
                format!("{} {}", state_symbol(r.state), r.state.label()),
                theme
                    .tone(state_tone(r.state))
                    .add_modifier(ratatui::style::Modifier::BOLD),
            )]),
            Part::new(vec![Span::raw(format!(
                "  step {}/{} · {}%",
                (r.step + 1).min(r.steps.len()),
                r.steps.len(),
                r.canary_weight
            ))]),
        ),
        None => (
            Part::new(vec![Span::raw("")]),
            Part::new(vec![Span::styled("no rollout data yet", theme.dim())]),
            Part::new(vec![Span::raw("")]),
        ),
    };
    // A judge that found something gets its verdict word before the versions; one that is
    // collecting or passing gets its long form only after them.
    let (judge, judge_cap) = match judge_forms(model) {
        Some((forms, tone)) => {
            let cap = match tone {
                Tone::Bad | Tone::Warn => forms.len().saturating_sub(2),
                _ => forms.len().saturating_sub(1),
            };
            let forms = forms
                .into_iter()
                .map(|f| Span::styled(f, theme.tone(tone)))
                .collect();
            (Part::new(forms), cap)
        }
        None => (Part::new(vec![Span::raw("")]), 0),
    };
    let read_only = Part::spans(if model.settings.read_only {
        vec![vec![
            Span::raw("  "),
            Span::styled(" READ-ONLY ", theme.badge()),
        ]]
    } else {
        vec![vec![]]
    });
    let ages = Part::new(
        age_forms(model)
            .into_iter()
            .map(|(text, tone)| match tone {
                Some(t) => Span::styled(text, theme.tone(t)),
                None => Span::styled(text, theme.dim()),
            })
            .collect(),
    );
    let source = Part::new(if wide {
        vec![
            Span::styled(format!("  · {}", model.settings.source_label), theme.dim()),
            Span::raw(""),
        ]
    } else {
        vec![Span::raw("")]
    });
    let mut parts = [
        name_part, versions, state, step, judge, read_only, ages, source,
    ];
    // Everything at its shortest, then each part as long as the room allows, by priority:
    // (part, longest form allowed in that round).
    let mut used: usize = parts.iter().map(Part::width).sum();
    let rounds = [
        (4, judge_cap),
        (6, 1),
        (0, 0),
        (1, 0),
        (4, 0),
        (6, 0),
        (7, 0),
    ];
    for (i, cap) in rounds {
        let part = &mut parts[i];
        let now = part.width();
        if let Some(k) =
            (cap..part.chosen).find(|&k| used - now + part.form_width(k) <= area.width as usize)
        {
            part.chosen = k;
            used = used - now + part.width();
        }
    }
    let spans: Vec<Span> = parts
        .into_iter()
        .flat_map(|mut p| {
            let k = p.chosen;
            if k < p.forms.len() {
                p.forms.swap_remove(k)
            } else {
                vec![]
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// How old the metrics and the rollout read are, longest form first; the tone is set when a
/// source is failing (`✗`), and then its word is never dropped. Both fine: the older age.
fn age_forms(model: &Model) -> Vec<(String, Option<Tone>)> {
    let (m_age, r_age) = (model.metrics_age(), model.rollout_age());
    let (m_bad, r_bad) = (model.metrics_failing(), model.rollout_failing());
    let ago = |a: Option<std::time::Duration>| {
        a.map_or_else(
            || "no answer yet".into(),
            |a| format!("{} ago", short_duration(a)),
        )
    };
    let short = |a: Option<std::time::Duration>| a.map_or_else(|| "—".into(), short_duration);
    if !m_bad && !r_bad {
        return match m_age.into_iter().chain(r_age).max() {
            Some(a) => vec![
                (format!("  polled {} ago", short_duration(a)), None),
                (format!("  {} ago", short_duration(a)), None),
                (String::new(), None),
            ],
            None => vec![("  not polled yet".into(), None), (String::new(), None)],
        };
    }
    let mark = |bad: bool| if bad { " ✗" } else { "" };
    let stale_after = model.settings.poll_interval * STALE_AFTER_POLLS;
    let stale = [(m_bad, m_age), (r_bad, r_age)]
        .iter()
        .any(|(bad, a)| *bad && a.is_none_or(|a| a > stale_after));
    let lead = if stale { "  STALE: " } else { "  " };
    let both = format!(
        "{lead}metrics {}{} · rollout {}{}",
        ago(m_age),
        mark(m_bad),
        ago(r_age),
        mark(r_bad)
    );
    let (who, a) = if m_bad {
        ("metrics", m_age)
    } else {
        ("rollout", r_age)
    };
    let mut forms = vec![both, format!("{lead}{who} {} ✗", ago(a))];
    if m_bad && r_bad {
        forms.push(format!(
            "{lead}metrics {} ✗ rollout {} ✗",
            short(m_age),
            short(r_age)
        ));
        forms.push(format!("{lead}metrics ✗ rollout ✗"));
    } else {
        forms.push(format!("{lead}{who} {} ✗", short(a)));
        forms.push(format!("{lead}{who} ✗"));
    }
    forms.into_iter().map(|f| (f, Some(Tone::Bad))).collect()
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
            // Its canary is gone before the judge decided: it will not decide now.
            Verdict::Collecting if model.current().is_finished() => "undecided".to_string(),
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
    let sc = model.derived.judge_score.as_ref()?;
    if model.derived.judge_collecting && model.current().is_finished() {
        return Some((
            vec!["  judge undecided".into(), "  judge —".into()],
            Tone::Neutral,
        ));
    }
    if model.derived.judge_collecting {
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
    let (tone, text) = model.derived.why.clone();
    // Cut with an ellipsis, so a cut reason never reads as a whole one; the detail view and
    // the event log carry it whole.
    let room = usize::from(area.width).saturating_sub(3);
    let text = match &model.derived.why_short {
        Some(short) if text.chars().count() > room => short.clone(),
        _ => text,
    };
    let text = crate::domain::format::excerpt(&text, room, crate::domain::format::Keep::Start);
    let line = Line::from(vec![
        Span::styled(" » ", theme.dim()),
        Span::styled(text, theme.tone(tone)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}
