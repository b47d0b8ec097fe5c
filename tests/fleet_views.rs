//! The fleet list: 8 rollouts of `simulate --fleet 8` at a fixed time, drawn at 80x24 and
//! 160x48 (insta), and driven by keys through `keymap::message_for` into `update`.

mod common;

use common::{fleet_model as build, render_model};
use rollout_console::app::keymap::{Key, KeyPress, message_for};
use rollout_console::app::model::Model;
use rollout_console::app::update;
use rollout_console::domain::attention::Attention;
use std::sync::OnceLock;

/// Seconds the members run before the snapshot: long enough for the error spike and the latency
/// regression to be judged, short of the spike's automatic rollback.
const RUN: i64 = 60;

/// The 8-rollout fleet after `RUN` seconds, built once (each member polls every 2 s on the way).
fn fleet_model(n: usize, secs: i64) -> Model {
    static FLEET: OnceLock<Model> = OnceLock::new();
    if (n, secs) == (8, RUN) {
        FLEET.get_or_init(|| build(8, RUN)).clone()
    } else {
        build(n, secs)
    }
}

fn press(model: &mut Model, key: Key) {
    use rollout_console::app::Effect;
    if let Some(msg) = message_for(model, KeyPress { key, ctrl: false }) {
        let opening = matches!(msg, rollout_console::app::Msg::FleetOpen);
        let effects = update(model, msg);
        // Only Enter asks for anything: the opened rollout's reads, if older than the interval.
        let reads_of_the_open_one = effects.iter().all(|e| match e {
            Effect::FetchRollout { name, .. } => *name == model.current().name,
            Effect::FetchMetrics { request, .. } => {
                request.rollout.as_ref().map(|r| &r.name) == Some(&model.current().name)
                    && request.priority == rollout_console::metrics::Priority::Open
            }
            _ => false,
        });
        assert!(
            effects.is_empty() || (opening && reads_of_the_open_one),
            "a list key sent {effects:?}"
        );
    }
}

fn type_text(model: &mut Model, text: &str) {
    for c in text.chars() {
        press(model, Key::Char(c));
    }
}

fn names(model: &Model) -> Vec<String> {
    model
        .derived
        .fleet_rows
        .iter()
        .map(|r| r.name.clone())
        .collect()
}

fn selected_name(model: &Model) -> String {
    model.rollouts[model.fleet.selected].name.clone()
}

#[test]
fn the_list_at_80x24_and_160x48() {
    let model = fleet_model(8, RUN);
    assert!(model.fleet.shown);
    assert_eq!(model.derived.fleet_rows.len(), 8);
    let small = render_model(&model, 80, 24);
    // Every rollout has its row at 80x24.
    for r in &model.rollouts {
        assert!(small.contains(&r.name), "{} missing:\n{small}", r.name);
    }
    insta::assert_snapshot!("list_80x24", small);
    insta::assert_snapshot!("list_160x48", render_model(&model, 160, 48));
}

#[test]
fn fifteen_rows_fit_at_80x24() {
    let model = fleet_model(16, 2);
    let screen = render_model(&model, 80, 24);
    let shown = model
        .derived
        .fleet_rows
        .iter()
        .filter(|r| screen.contains(&format!(" {} ", r.name)))
        .count();
    assert!(shown >= 15, "{shown} rows shown:\n{screen}");
}

#[test]
fn moving_the_selection_with_j_k_g_and_g() {
    let mut model = fleet_model(8, RUN);
    let order = names(&model);
    assert_eq!(
        selected_name(&model),
        order[0],
        "the first row starts selected"
    );
    press(&mut model, Key::Char('j'));
    press(&mut model, Key::Down);
    assert_eq!(selected_name(&model), order[2]);
    press(&mut model, Key::Char('k'));
    assert_eq!(selected_name(&model), order[1]);
    press(&mut model, Key::Char('G'));
    assert_eq!(selected_name(&model), order[7]);
    press(&mut model, Key::Char('j'));
    assert_eq!(
        selected_name(&model),
        order[7],
        "the bottom stays the bottom"
    );
    press(&mut model, Key::Char('g'));
    assert_eq!(selected_name(&model), order[0]);
    press(&mut model, Key::Up);
    assert_eq!(selected_name(&model), order[0], "the top stays the top");
    press(&mut model, Key::Char('j'));
    press(&mut model, Key::Char('j'));
    insta::assert_snapshot!("selected_80x24", render_model(&model, 80, 24));
}

#[test]
fn the_filter_narrows_the_rows_enter_keeps_it_and_esc_clears_it() {
    let mut model = fleet_model(8, RUN);
    press(&mut model, Key::Char('/'));
    assert!(model.fleet.typing);
    type_text(&mut model, "paused");
    assert_eq!(names(&model), ["catalog"]);
    insta::assert_snapshot!("filter_typing_80x24", render_model(&model, 80, 24));
    press(&mut model, Key::Backspace);
    assert_eq!(model.fleet.filter, "pause");
    press(&mut model, Key::Enter);
    assert!(!model.fleet.typing, "Enter keeps the filter");
    assert_eq!(model.fleet.filter, "pause");
    assert_eq!(names(&model), ["catalog"]);
    // With the filter kept, j and q are keys again, not letters of the filter.
    press(&mut model, Key::Char('j'));
    assert_eq!(model.fleet.filter, "pause");
    insta::assert_snapshot!("filter_kept_160x48", render_model(&model, 160, 48));
    press(&mut model, Key::Esc);
    assert_eq!(model.fleet.filter, "");
    assert_eq!(names(&model).len(), 8);
    // A filter that matches nothing says so.
    press(&mut model, Key::Char('/'));
    type_text(&mut model, "nope");
    assert!(names(&model).is_empty());
    let screen = render_model(&model, 80, 24);
    assert!(screen.contains("no rollout matches \"nope\""), "{screen}");
    press(&mut model, Key::Esc);
    assert!(!model.fleet.typing);
    assert_eq!(names(&model).len(), 8);
}

#[test]
fn enter_opens_the_selected_rollout_and_esc_returns_to_the_list() {
    let mut model = fleet_model(8, RUN);
    press(&mut model, Key::Char('/'));
    type_text(&mut model, "search");
    press(&mut model, Key::Enter);
    press(&mut model, Key::Enter);
    assert!(!model.fleet.shown, "Enter opens the rollout");
    assert_eq!(model.current().name, "search");
    let screen = render_model(&model, 80, 24);
    let head = screen.lines().next().unwrap_or_default();
    assert!(head.contains("search"), "{screen}");
    assert!(!screen.contains("ATTENTION"), "{screen}");
    // j on the rollout screen selects metrics again, not rows.
    press(&mut model, Key::Char('j'));
    assert_eq!(model.current().focus, 1);
    press(&mut model, Key::Esc);
    assert!(model.fleet.shown, "Esc returns to the list");
    assert_eq!(selected_name(&model), "search");
    // Esc closes an overlay first, as it always did.
    press(&mut model, Key::Enter);
    press(&mut model, Key::Char('e'));
    press(&mut model, Key::Esc);
    assert!(
        !model.fleet.shown,
        "Esc closed the events view, not the rollout"
    );
    press(&mut model, Key::Esc);
    assert!(model.fleet.shown);
    press(&mut model, Key::Char('q'));
    assert!(model.quit);
}

#[test]
fn a_console_with_one_rollout_never_shows_the_list() {
    let mut h = common::Harness::new(rollout_console::sim::Scenario::Healthy, false);
    h.advance(6);
    let before = h.render(80, 24);
    press(&mut h.model, Key::Char('/'));
    press(&mut h.model, Key::Esc);
    assert!(!h.model.fleet.shown);
    assert!(h.model.derived.fleet_rows.is_empty());
    assert_eq!(h.render(80, 24), before);
}

#[test]
fn a_row_advising_rollback_is_drawn_above_every_progressing_one() {
    for secs in [RUN] {
        let model = fleet_model(8, secs);
        let screen = render_model(&model, 80, 24);
        let line_of = |rank: Attention| {
            model
                .derived
                .fleet_rows
                .iter()
                .filter(|r| r.rank == rank)
                .map(|r| {
                    screen
                        .lines()
                        .position(|l| l.contains(&format!(" {} ", r.name)))
                        .expect("the row is on screen")
                })
                .collect::<Vec<_>>()
        };
        let advised = line_of(Attention::RollbackAdvised);
        let progressing = line_of(Attention::Progressing);
        assert!(!progressing.is_empty(), "{screen}");
        if secs == RUN {
            assert!(
                !advised.is_empty(),
                "nothing advises rollback at {secs}s:\n{screen}"
            );
        }
        for a in &advised {
            for p in &progressing {
                assert!(
                    a < p,
                    "at {secs}s a rollback row is below a progressing one:\n{screen}"
                );
            }
        }
        for (r, line) in model.derived.fleet_rows.iter().zip(screen.lines().skip(2)) {
            if r.rank == Attention::RollbackAdvised {
                assert!(line.contains("ROLL BACK"), "{line}");
            }
        }
    }
}

/// The help box's rows as drawn: the text between its side borders, from its top border to its
/// bottom one (which must be on screen: the box is whole).
fn help_rows(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("┌ Keys"))
        .unwrap_or_else(|| panic!("no help box:\n{screen}"));
    // The box's columns: from its top-left corner to its top-right one.
    let (before, corner) = lines[top].split_once("┌ Keys").unwrap_or_default();
    let left = before.chars().count();
    let right = left + corner.chars().position(|c| c == '┐').unwrap_or_default() + 6;
    let bottom = lines[top..]
        .iter()
        .position(|l| l.chars().nth(left) == Some('└'))
        .map(|i| top + i)
        .unwrap_or_else(|| panic!("the help box has no bottom border:\n{screen}"));
    lines[top + 1..bottom]
        .iter()
        .map(|l| {
            let row: Vec<char> = l.chars().collect();
            assert_eq!(row.get(left), Some(&'│'), "the box's left side:\n{screen}");
            assert_eq!(
                row.get(right),
                Some(&'│'),
                "the box's right side:\n{screen}"
            );
            row[left + 1..right].iter().collect()
        })
        .collect()
}

/// Each key of the help with its description, its wrapped rows joined again (the keys end at
/// the first blank row; the notes follow it).
fn help_entries(screen: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    for row in help_rows(screen) {
        if row.trim().is_empty() {
            break;
        }
        let chars: Vec<char> = row.chars().collect();
        let split = chars.len().min(12);
        let key: String = chars[..split].iter().collect();
        let what: String = chars[split..].iter().collect();
        match entries.last_mut() {
            Some(last) if key.trim().is_empty() => {
                last.1.push(' ');
                last.1.push_str(what.trim());
            }
            _ => entries.push((key.trim().to_string(), what.trim().to_string())),
        }
    }
    entries
}

/// Every key of `KEYS` that works on the screen is in its help, whole (its description in full,
/// words unbroken), and no other key is; the notes below the keys are there too.
fn assert_help_is_whole(screen: &str, on_list: bool) {
    use rollout_console::app::keymap::KEYS;
    let entries = help_entries(screen);
    let want: Vec<(String, String)> = KEYS
        .iter()
        .filter(|k| k.shown_in_help(on_list, true))
        .map(|k| (k.key.to_string(), k.what.to_string()))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(entries, want, "the help:\n{screen}");
    let text = help_rows(screen).join("\n");
    assert!(text.contains("Source: simulator (test)"), "{screen}");
    assert!(text.contains("Audit log: "), "{screen}");
}

#[test]
fn help_on_the_list_names_the_list_keys_whole() {
    use rollout_console::app::keymap::KEYS;
    let mut model = fleet_model(8, RUN);
    press(&mut model, Key::Char('?'));
    assert!(model.fleet.shown, "the help opens over the list");
    let small = render_model(&model, 80, 24);
    assert_help_is_whole(&small, true);
    // The list's own keys and the actions (on the selected row) are there; the rollout
    // screen's metric keys are not.
    for key in ["j k g G", "/", "Enter Esc", "?", "q  Ctrl-C", "p", "r"] {
        assert!(
            help_entries(&small).iter().any(|(k, _)| k == key),
            "{key} missing:\n{small}"
        );
    }
    for k in KEYS.iter().filter(|k| k.action.is_some()) {
        assert!(
            small.contains(k.what),
            "{} missing on the list:\n{small}",
            k.key
        );
    }
    assert!(!small.contains("select the next metric"), "{small}");
    insta::assert_snapshot!("help_list_80x24", small);
    let large = render_model(&model, 160, 48);
    assert_help_is_whole(&large, true);
    insta::assert_snapshot!("help_list_160x48", large);
    press(&mut model, Key::Char('?'));
    assert!(model.fleet.shown, "? closes the help, back on the list");
    assert!(!render_model(&model, 80, 24).contains("┌ Keys"));
}

#[test]
fn help_on_a_rollout_of_the_fleet_names_its_keys_whole() {
    let mut model = fleet_model(8, RUN);
    press(&mut model, Key::Enter);
    assert!(!model.fleet.shown, "Enter opened a rollout");
    press(&mut model, Key::Char('?'));
    let small = render_model(&model, 80, 24);
    assert_help_is_whole(&small, false);
    // The way back to the list and its filter work from here; the list's moves do not.
    for key in ["p", "space", "Enter", "tab ↓ j", "/", "Enter Esc", "Esc"] {
        assert!(
            help_entries(&small).iter().any(|(k, _)| k == key),
            "{key} missing:\n{small}"
        );
    }
    assert!(!help_entries(&small).iter().any(|(k, _)| k == "j k g G"));
    insta::assert_snapshot!("help_rollout_80x24", small);
    let large = render_model(&model, 160, 48);
    assert_help_is_whole(&large, false);
    insta::assert_snapshot!("help_rollout_160x48", large);
    // Read-only adds a line: still whole at 80x24, the note included.
    model.settings.read_only = true;
    let read_only = render_model(&model, 80, 24);
    assert_help_is_whole(&read_only, false);
    assert!(
        help_rows(&read_only)
            .join(" ")
            .contains("READ-ONLY: p, P, space, r, t and u are disabled in watch mode."),
        "{read_only}"
    );
}

/// The line of the list that shows rollout `name` (empty when none does).
fn row_of(screen: &str, name: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(&format!(" {name} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_failed_query_says_err_on_its_row_not_no_data() {
    use rollout_console::app::model::BudgetCell;
    use rollout_console::domain::Verdict;
    let mut model = fleet_model(8, RUN);
    let row = &mut model.derived.fleet_rows[0];
    row.metrics_read = true;
    row.worst = Some((Verdict::NoData, "p95 latency".into(), 0));
    row.worst_failed = true;
    row.budget = Some(BudgetCell {
        slo: "availability".into(),
        left: None,
        alert: None,
        burn_measured: false,
        failed: true,
    });
    let name = row.name.clone();
    // 80 columns: the budget is the last column, in a word.
    let small = render_model(&model, 80, 24);
    let line = row_of(&small, &name);
    assert!(line.contains("? ERR p95"), "{small}");
    assert!(
        line.trim_end_matches(['"', ' ']).ends_with(" ERR"),
        "{small}"
    );
    assert!(!line.contains("NO DATA"), "{small}");
    // 160 columns: both cells say ERR, neither NO DATA.
    let wide = render_model(&model, 160, 48);
    let line = row_of(&wide, &name);
    assert!(line.contains("? ERR p95 latency"), "{wide}");
    assert_eq!(line.matches("? ERR").count(), 2, "{wide}");
    assert!(!line.contains("NO DATA"), "{wide}");
}

#[test]
fn a_budget_alert_keeps_its_column_at_80x24_in_fewer_words() {
    use rollout_console::app::model::BudgetCell;
    use rollout_console::domain::slo::Alert;
    let mut model = fleet_model(8, RUN);
    let budget = |left: f64, alert: Option<Alert>| {
        Some(BudgetCell {
            slo: "availability".into(),
            left: Some(left),
            alert,
            burn_measured: true,
            failed: false,
        })
    };
    model.derived.fleet_rows[0].budget = budget(-3.9, Some(Alert::Ticket));
    model.derived.fleet_rows[1].budget = budget(-0.5, None);
    let (ticket, overspent) = (
        model.derived.fleet_rows[0].name.clone(),
        model.derived.fleet_rows[1].name.clone(),
    );
    let small = render_model(&model, 80, 24);
    assert!(small.contains("BUDGET"), "{small}");
    assert!(
        row_of(&small, &ticket)
            .trim_end_matches(['"', ' '])
            .ends_with("TICKET"),
        "{small}"
    );
    assert!(
        row_of(&small, &overspent)
            .trim_end_matches(['"', ' '])
            .ends_with("OVERSPENT"),
        "{small}"
    );
    // Room for the whole words at 160 columns.
    let wide = render_model(&model, 160, 48);
    assert!(
        row_of(&wide, &ticket).contains("OVERSPENT 390% TICKET"),
        "{wide}"
    );
    assert!(
        row_of(&wide, &overspent).contains("OVERSPENT 50%"),
        "{wide}"
    );
}
