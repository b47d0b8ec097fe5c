//! The help overlay and the confirmation prompts, drawn over the screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::Theme;
use super::layout::centered;
use crate::app::Model;
use crate::app::keymap::{KEYS, action_keys_text};
use crate::app::model::{Overlay, Prompt, PromptField, Tone};
use crate::domain::action::ActionKind;

const PROMPT_WIDTH: u16 = 76;

/// `text` cut to `width` characters, with an ellipsis when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    match &model.overlay {
        Overlay::None => {}
        Overlay::Help => draw_help(frame, area, model, theme),
        Overlay::Confirm(p) => draw_prompt(frame, area, p, model, theme),
        Overlay::Detail { metric, scroll } => {
            super::detail::draw(frame, area, model, *metric, *scroll, theme)
        }
        Overlay::Events { scroll } => super::events::draw(frame, area, model, *scroll, theme),
    }
}

/// Columns of the help's key column (one space, then the key padded to 11).
const HELP_KEY: usize = 12;
const HELP_WIDTH: u16 = 78;

/// The help of the screen under it: the keys that work there (the fleet list's on the list, the
/// rollout screen's on a rollout), each description wrapped under itself at word boundaries, so
/// every key is seen whole at 80x24. On a terminal too short for all of it, the notes below the
/// keys (read-only, audit log, source) are left out, never a key.
fn draw_help(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    // A console with one rollout has no fleet list: its keys would only be noise.
    let fleet = model.rollouts.len() > 1;
    let list = model.fleet.shown;
    let rect = centered(area, HELP_WIDTH, area.height);
    let inner = usize::from(rect.width.saturating_sub(2));
    let what_width = inner.saturating_sub(HELP_KEY).max(1);
    let mut lines: Vec<Line> = Vec::new();
    for k in KEYS.iter().filter(|k| k.shown_in_help(list, fleet)) {
        for (i, row) in super::detail::wrap(k.what, what_width)
            .into_iter()
            .enumerate()
        {
            let key = if i == 0 { k.key } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!(" {key:<11}"), theme.bold()),
                Span::raw(row),
            ]));
        }
    }
    let note = |text: &str, style| -> Vec<Line> {
        super::detail::wrap(text, inner.saturating_sub(1))
            .into_iter()
            .map(|row| Line::from(Span::styled(format!(" {row}"), style)))
            .collect()
    };
    let mut notes = Vec::new();
    if list && !model.settings.read_only {
        notes.push(note(
            &format!(
                "On the list, {} act on the selected row.",
                action_keys_text()
            ),
            theme.dim(),
        ));
    }
    if model.settings.read_only {
        notes.push(note(
            &format!(
                "READ-ONLY: {} are disabled in watch mode.",
                action_keys_text()
            ),
            theme.tone(Tone::Warn),
        ));
    }
    notes.push(note(
        &format!("Audit log: {}", model.settings.audit_path),
        theme.dim(),
    ));
    notes.push(note(
        &format!("Source: {}", model.settings.source_label),
        theme.dim(),
    ));
    // Each note whole or not at all, after a blank line, while the terminal has room.
    let room = usize::from(area.height.saturating_sub(2));
    let mut blank = true;
    for rows in notes {
        if lines.len() + usize::from(blank) + rows.len() > room {
            break;
        }
        if std::mem::take(&mut blank) {
            lines.push(Line::raw(""));
        }
        lines.extend(rows);
    }
    let height = (lines.len() as u16).saturating_add(2);
    let rect = centered(area, HELP_WIDTH, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(Span::styled(" Keys — Esc or ? closes ", theme.bold()));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn title(p: &Prompt) -> String {
    match p.action {
        ActionKind::Promote => format!(" Promote {}? ", p.rollout),
        ActionKind::Pause => format!(" Pause {}? ", p.rollout),
        ActionKind::Resume => format!(" Resume {}? ", p.rollout),
        ActionKind::Rollback => format!(" Roll back {}? ", p.rollout),
        ActionKind::PromoteFull => format!(" Promote {} FULLY? ", p.rollout),
        ActionKind::Retry => format!(" Retry {}? ", p.rollout),
        ActionKind::Undo => format!(" Undo {}? ", p.rollout),
    }
}

fn draw_prompt(frame: &mut Frame, area: Rect, p: &Prompt, model: &Model, theme: &Theme) {
    let mut lines = Vec::new();
    let from = format!("step {} ({}%)", p.seen_step + 1, p.from_weight);
    let steps = model
        .current()
        .rollout
        .as_ref()
        .map_or(0, |r| r.steps.len());
    match (p.action, p.to) {
        (ActionKind::Rollback, _) if p.state_unknown.is_some() => {
            let error = p
                .state_unknown
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!(" The rollout's state is unknown (last read failed: {error})."),
                theme.tone(Tone::Bad),
            )));
            if let Some(r) = &model.current().rollout {
                lines.push(Line::raw(format!(
                    " Last known: step {} at {}%, {}.",
                    r.step + 1,
                    r.canary_weight,
                    r.state.label()
                )));
            }
            lines.push(Line::raw(
                " Roll back anyway? All traffic returns to stable, whatever the step.",
            ));
            lines.push(Line::from(Span::styled(
                " Sent without a step check; the receipt says the state was unknown.",
                theme.dim(),
            )));
        }
        (ActionKind::Promote, Some((to, _))) if to >= steps => {
            lines.push(Line::raw(format!(" {from} → complete: canary takes 100%")))
        }
        (ActionKind::Promote, Some((to, w))) => {
            lines.push(Line::raw(format!(" {from} → step {} ({w}%)", to + 1)))
        }
        (ActionKind::Rollback, _) => {
            lines.push(Line::raw(format!(
                " Canary at {from}. All traffic returns to stable."
            )));
            lines.push(Line::from(Span::styled(
                " Rollback is the safe direction.",
                theme.dim(),
            )));
        }
        (ActionKind::Pause, _) => lines.push(Line::raw(format!(
            " Pause at {from}; the hold clock stops."
        ))),
        (ActionKind::Resume, _) => {
            // The hold is frozen while paused and continues from there: it does not restart.
            let left = model
                .current()
                .rollout
                .as_ref()
                .and_then(|r| r.hold_remaining(model.now));
            lines.push(Line::raw(match left {
                Some(left) if !left.is_zero() => format!(
                    " Resume at {from}; the hold continues where it stopped ({} left).",
                    crate::domain::format::short_duration(left)
                ),
                Some(_) => format!(" Resume at {from}; the hold is already done."),
                None => format!(" Resume at {from}; this step has no timed hold."),
            }))
        }
        (ActionKind::PromoteFull, _) => {
            lines.push(Line::raw(format!(
                " {from} → 100% now, skipping every remaining step, pause and hold."
            )));
        }
        (ActionKind::Retry, _) => lines.push(Line::raw(
            " Start the aborted rollout again from its first step.".to_string(),
        )),
        (ActionKind::Undo, _) => {
            let target = model
                .current()
                .rollout
                .as_ref()
                .and_then(|r| r.undo_to.as_deref())
                .unwrap_or("the previous revision");
            lines.push(Line::raw(format!(
                " Put {target}'s pod template back: the rollout rolls to it."
            )));
            lines.push(Line::from(Span::styled(
                format!(" Now at {from}."),
                theme.dim(),
            )));
        }
        _ => {}
    }
    // Every line of the prompt but the verdict list: when the terminal is too short for both,
    // the list goes (the override's blockers still name every failing gate).
    let fixed = 6
        + p.blockers.len()
        + usize::from(p.error.is_some())
        + usize::from(p.moved_on.is_some()) * 2;
    let room = (area.height as usize).saturating_sub(fixed + lines.len());
    if matches!(p.action, ActionKind::Promote | ActionKind::PromoteFull) && p.verdicts.len() < room
    {
        lines.push(Line::from(Span::styled(" Verdicts now:", theme.bold())));
        for (name, v, _) in &p.verdicts {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("   {} {:<8}", v.symbol(), v.label()),
                    theme.verdict(*v),
                ),
                Span::raw(name.clone()),
            ]));
        }
    }
    if let Some(moved) = &p.moved_on {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            format!(" ⚠ {moved}"),
            theme.tone(Tone::Bad),
        )));
        lines.push(Line::from(Span::styled(
            " Nothing will be sent.",
            theme.tone(Tone::Bad),
        )));
    } else if p.needs_override() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            " ⚠ OVERRIDE needed:",
            theme.tone(Tone::Bad),
        )));
        // One line each, so the input fields below always stay inside the box.
        let width = (PROMPT_WIDTH.min(area.width) as usize).saturating_sub(6);
        for b in &p.blockers {
            lines.push(Line::from(Span::styled(
                format!("   {}", fit(b, width)),
                theme.tone(Tone::Bad),
            )));
        }
        let field = |label: &str, value: &str, active: bool| {
            let cursor = if active { "▏" } else { "" };
            let style = if active { theme.bold() } else { theme.dim() };
            Line::from(vec![
                Span::styled(format!(" {label}"), style),
                Span::raw(format!("[{value}{cursor}]")),
            ])
        };
        lines.push(field(
            &format!("Type the rollout name ({}): ", p.rollout),
            &p.typed_name,
            p.field == PromptField::Name,
        ));
        lines.push(field("Reason: ", &p.reason, p.field == PromptField::Reason));
        if let Some(err) = &p.error {
            lines.push(Line::from(Span::styled(
                format!(" {err}"),
                theme.tone(Tone::Warn),
            )));
        }
        lines.push(Line::from(Span::styled(
            " Enter overrides · Tab switches field · Esc cancels",
            theme.dim(),
        )));
    } else {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled(" y", theme.bold()),
            Span::raw(" confirm · any other key cancels (default: No)"),
        ]));
    }
    let height = lines.len() as u16 + 2;
    let rect = centered(area, PROMPT_WIDTH, height);
    frame.render_widget(Clear, rect);
    let border = if p.needs_override() || p.action == ActionKind::Rollback {
        theme.tone(Tone::Bad)
    } else {
        theme.tone(Tone::Warn)
    };
    let block = Block::bordered()
        .border_style(border)
        .title(Span::styled(title(p), theme.bold()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
