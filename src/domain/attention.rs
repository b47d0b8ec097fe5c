//! Which rollout needs a human first: the order of the fleet list.
//!
//! A rollout the console advises rolling back (or one the backend failed) comes first; then one
//! whose state cannot be read (it may be failing unseen); then one paused waiting for a human,
//! longest first; then one ready to promote; then one progressing on its own; then one finished,
//! most recent first.

use chrono::{DateTime, Utc};
use std::cmp::Ordering;

use super::rollout::RolloutState;

/// How urgently a rollout needs a human, most urgent first (the derived order is the rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attention {
    /// A gate or the judge says roll back, a budget pages, or the backend failed it.
    RollbackAdvised,
    /// The backend's answer is missing or an error: the console cannot say it is fine.
    Unreadable,
    /// Paused, and nothing will move it but a person.
    WaitingForHuman,
    /// Its hold is over and every blocking gate held: a person may promote it.
    ReadyToPromote,
    /// Moving on its own.
    Progressing,
    /// Completed or rolled back: shown faded, below everything that can still change.
    Finished,
}

impl Attention {
    /// Short words for a row and for the event "moved up to …".
    pub fn label(self) -> &'static str {
        match self {
            Self::RollbackAdvised => "rollback advised",
            Self::Unreadable => "state unknown",
            Self::WaitingForHuman => "waiting for a human",
            Self::ReadyToPromote => "ready to promote",
            Self::Progressing => "progressing",
            Self::Finished => "finished",
        }
    }
}

/// What the sort needs to know of one rollout; the app fills it from its model.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionFacts {
    pub name: String,
    pub namespace: Option<String>,
    /// `None` while the backend's answer is missing or an error.
    pub state: Option<RolloutState>,
    /// A metric's gate or the judge FAILs, or an SLO's burn-rate alert pages.
    pub rollback_advised: bool,
    /// The step's hold is over and every blocking gate held through it.
    pub ready_to_promote: bool,
    /// Something short of a rollback is wrong: a gate that holds or warns FAILs, or an SLO's
    /// burn-rate alert opens a ticket. Such a row goes first among the moving ones.
    pub warned: bool,
    /// When it was paused, for "longest first".
    pub paused_at: Option<DateTime<Utc>>,
    /// When it reached a terminal state (the last step's start is a fair stand-in).
    pub finished_at: Option<DateTime<Utc>>,
}

/// The rank of one rollout.
pub fn attention(f: &AttentionFacts) -> Attention {
    let Some(state) = f.state else {
        // A failing rollout the console cannot read still fails: the advice wins if it was seen.
        return if f.rollback_advised {
            Attention::RollbackAdvised
        } else {
            Attention::Unreadable
        };
    };
    match state {
        RolloutState::Failed => Attention::RollbackAdvised,
        RolloutState::Completed | RolloutState::RolledBack => Attention::Finished,
        _ if f.rollback_advised => Attention::RollbackAdvised,
        RolloutState::Paused => Attention::WaitingForHuman,
        RolloutState::Progressing if f.ready_to_promote => Attention::ReadyToPromote,
        RolloutState::Progressing => Attention::Progressing,
    }
}

/// Most urgent first; within a rank: paused longest first, finished most recent first, a
/// moving rollout with a warning (a FAIL that holds or warns) before the others, then by
/// namespace and name so that equal rows never swap places between two polls.
pub fn compare(a: &AttentionFacts, b: &AttentionFacts) -> Ordering {
    let (rank_a, rank_b) = (attention(a), attention(b));
    rank_a
        .cmp(&rank_b)
        .then_with(|| match rank_a {
            // Earlier pause first; a pause of unknown age after the known ones.
            Attention::WaitingForHuman => earliest_first(a.paused_at, b.paused_at),
            Attention::Finished => latest_first(a.finished_at, b.finished_at),
            // Among fifty running rows, the one failing a gate must not sit below the fold.
            Attention::Progressing | Attention::ReadyToPromote => b.warned.cmp(&a.warned),
            _ => Ordering::Equal,
        })
        .then_with(|| a.namespace.cmp(&b.namespace))
        .then_with(|| a.name.cmp(&b.name))
}

/// `Some` before `None`, earlier before later.
fn earliest_first(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// `Some` before `None`, later before earlier.
fn latest_first(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.cmp(&a),
        _ => earliest_first(a, b),
    }
}

/// The indices of `rows` in attention order (the rows themselves stay where they are, so the
/// caller's per-rollout state is not moved).
pub fn order(rows: &[AttentionFacts]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&i, &j| compare(&rows[i], &rows[j]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0)
            .single()
            .expect("a valid time")
            + chrono::Duration::minutes(min)
    }

    fn facts(name: &str, state: Option<RolloutState>) -> AttentionFacts {
        AttentionFacts {
            name: name.into(),
            namespace: None,
            state,
            rollback_advised: false,
            ready_to_promote: false,
            warned: false,
            paused_at: None,
            finished_at: None,
        }
    }

    fn names(rows: &[AttentionFacts]) -> Vec<&str> {
        order(rows)
            .into_iter()
            .map(|i| rows[i].name.as_str())
            .collect()
    }

    #[test]
    fn the_issue_order_rollback_then_paused_then_ready_then_progressing_then_finished() {
        let done = AttentionFacts {
            finished_at: Some(at(-30)),
            ..facts("done", Some(RolloutState::Completed))
        };
        let moving = facts("moving", Some(RolloutState::Progressing));
        let ready = AttentionFacts {
            ready_to_promote: true,
            ..facts("ready", Some(RolloutState::Progressing))
        };
        let paused = AttentionFacts {
            paused_at: Some(at(-5)),
            ..facts("paused", Some(RolloutState::Paused))
        };
        let bad = AttentionFacts {
            rollback_advised: true,
            ..facts("bad", Some(RolloutState::Progressing))
        };
        let failed = facts("failed", Some(RolloutState::Failed));
        let rows = vec![done, moving, ready, paused, bad, failed];
        assert_eq!(
            names(&rows),
            ["bad", "failed", "paused", "ready", "moving", "done"]
        );
    }

    #[test]
    fn a_running_rollout_failing_a_gate_short_of_rollback_goes_first_among_the_running() {
        let moving = |name: &str, warned: bool| AttentionFacts {
            warned,
            ..facts(name, Some(RolloutState::Progressing))
        };
        let paused = |name: &str, warned: bool, since: i64| AttentionFacts {
            warned,
            paused_at: Some(at(since)),
            ..facts(name, Some(RolloutState::Paused))
        };
        let rows = vec![
            moving("alpha", false),
            moving("zulu", true),
            moving("bravo", false),
            paused("long", false, -60),
            paused("short", true, -1),
        ];
        // The pause order stays the issue's (longest first), warned or not.
        assert_eq!(names(&rows), ["long", "short", "zulu", "alpha", "bravo"]);
    }

    #[test]
    fn paused_longest_first_and_unknown_pause_time_last() {
        let p = |name: &str, since: Option<i64>| AttentionFacts {
            paused_at: since.map(at),
            ..facts(name, Some(RolloutState::Paused))
        };
        let rows = vec![
            p("recent", Some(-1)),
            p("unknown", None),
            p("long", Some(-90)),
        ];
        assert_eq!(names(&rows), ["long", "recent", "unknown"]);
    }

    #[test]
    fn finished_most_recent_first() {
        let f = |name: &str, min: i64| AttentionFacts {
            finished_at: Some(at(min)),
            ..facts(name, Some(RolloutState::RolledBack))
        };
        let rows = vec![f("old", -120), f("new", -2)];
        assert_eq!(names(&rows), ["new", "old"]);
    }

    #[test]
    fn an_unreadable_rollout_is_above_a_paused_one_unless_its_advice_was_seen() {
        let unreadable = facts("dark", None);
        let paused = facts("paused", Some(RolloutState::Paused));
        assert_eq!(attention(&unreadable), Attention::Unreadable);
        assert_eq!(
            names(&[paused.clone(), unreadable.clone()]),
            ["dark", "paused"]
        );
        let advised = AttentionFacts {
            rollback_advised: true,
            ..unreadable
        };
        assert_eq!(attention(&advised), Attention::RollbackAdvised);
    }

    #[test]
    fn a_paused_rollout_advised_back_is_rollback_advised_and_a_finished_one_is_not() {
        let paused_bad = AttentionFacts {
            rollback_advised: true,
            ..facts("p", Some(RolloutState::Paused))
        };
        assert_eq!(attention(&paused_bad), Attention::RollbackAdvised);
        // Once rolled back, the advice has been followed: nothing left to do.
        let done_bad = AttentionFacts {
            rollback_advised: true,
            ..facts("d", Some(RolloutState::RolledBack))
        };
        assert_eq!(attention(&done_bad), Attention::Finished);
    }

    #[test]
    fn equal_rows_keep_a_stable_order_by_namespace_then_name() {
        let n = |ns: &str, name: &str| AttentionFacts {
            namespace: Some(ns.into()),
            ..facts(name, Some(RolloutState::Progressing))
        };
        let rows = vec![n("b", "a"), n("a", "z"), n("a", "b")];
        assert_eq!(names(&rows), ["b", "z", "a"]);
    }

    fn any_facts() -> impl Strategy<Value = AttentionFacts> {
        let state = prop_oneof![
            Just(None),
            Just(Some(RolloutState::Progressing)),
            Just(Some(RolloutState::Paused)),
            Just(Some(RolloutState::Completed)),
            Just(Some(RolloutState::RolledBack)),
            Just(Some(RolloutState::Failed)),
        ];
        (
            "[a-d]{1,2}",
            proptest::option::of("[xy]"),
            state,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(-600i64..0),
            proptest::option::of(-600i64..0),
        )
            .prop_map(
                |(name, namespace, state, rollback_advised, ready, warned, paused, finished)| {
                    AttentionFacts {
                        name,
                        namespace,
                        state,
                        rollback_advised,
                        ready_to_promote: ready,
                        warned,
                        paused_at: paused.map(at),
                        finished_at: finished.map(at),
                    }
                },
            )
    }

    proptest! {
        /// A rollout advising rollback is never below one that is progressing, paused or ready.
        #[test]
        fn rollback_advice_is_never_below_a_live_rollout(rows in proptest::collection::vec(any_facts(), 0..24)) {
            let sorted: Vec<Attention> = order(&rows).into_iter().map(|i| attention(&rows[i])).collect();
            for (i, a) in sorted.iter().enumerate() {
                for b in &sorted[i + 1..] {
                    prop_assert!(a <= b, "{a:?} came before {b:?}");
                }
            }
            if let Some(first_live) = sorted.iter().position(|a| matches!(a,
                Attention::Progressing | Attention::WaitingForHuman | Attention::ReadyToPromote)) {
                prop_assert!(!sorted[first_live..].contains(&Attention::RollbackAdvised));
            }
        }

        /// The order is total: sorting a shuffled copy gives the same rows.
        #[test]
        fn the_order_does_not_depend_on_the_input_order(mut rows in proptest::collection::vec(any_facts(), 0..16)) {
            let first: Vec<AttentionFacts> = order(&rows).into_iter().map(|i| rows[i].clone()).collect();
            rows.reverse();
            let second: Vec<AttentionFacts> = order(&rows).into_iter().map(|i| rows[i].clone()).collect();
            // Rows equal in every field may swap; compare what the user sees.
            let key = |r: &AttentionFacts| {
                let rank = attention(r);
                let paused = r.paused_at.filter(|_| rank == Attention::WaitingForHuman);
                let finished = r.finished_at.filter(|_| rank == Attention::Finished);
                (rank, r.namespace.clone(), r.name.clone(), paused, finished)
            };
            prop_assert_eq!(first.iter().map(key).collect::<Vec<_>>(), second.iter().map(key).collect::<Vec<_>>());
        }
    }
}
