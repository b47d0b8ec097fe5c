//! Raw counters read once per step for a whole fleet (`[fleet] group_by`): what has been read so
//! far of one counter for the members that share a grid spacing, which reads bring it up to a
//! poll's end, and each member's tracks picked from it (no I/O here: `source::grouped_counters`
//! sends the reads).
//!
//! Every member's grid points are multiples of its spacing since the epoch, so the members with
//! the same spacing share their points: one read at that spacing from the earliest start they
//! need holds each member's own grid, and a member's answer is its series (by the group label
//! and the hash label) counted on its own grid (`metrics::tally`: counts per bucket bound and
//! block, not the raw series). Reads are incremental as per rollout: the members read before are
//! read only from the point after the last one read (the caller asks only for settled points,
//! so none is read twice), a member not read before (new in the fleet, now on this spacing, or
//! whose grid starts elsewhere) is read whole once from its start. Each raw series is counted
//! apart before it is summed, so resets are still counted per series.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::decode::Labels;
use super::tally::{Tally, TallyKind};
use crate::domain::Sample;

/// One range query to send: `members`' raw series from `from_ms` to `end_ms` at the spacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub members: Vec<String>,
    pub from_ms: i64,
    pub end_ms: i64,
    /// A first read of `members` (complete from `from_ms` once answered), not the points since
    /// the last read.
    pub whole: bool,
}

impl Read {
    /// `[from, end]` of each part to ask, in time order, at most `points` grid points each
    /// (the first part's size; the caller may change it for the next by what an answer held).
    pub fn next_part(&self, from_ms: i64, spacing_ms: i64, points: i64) -> Option<(i64, i64)> {
        (from_ms <= self.end_ms).then(|| {
            let end = from_ms.saturating_add((points.max(1) - 1) * spacing_ms.max(1));
            (from_ms, end.min(self.end_ms))
        })
    }
}

/// How long a member read before may be missing from the plans (of polls that do not know it,
/// or after it left this spacing) before it is forgotten: longer than a fleet row's cadence.
pub const FORGET_ABSENT_MS: i64 = 5 * 60 * 1_000;

/// A raw series of an answer: its labels and points.
type Series = (Labels, Vec<Sample>);

/// One counter's counts so far for the members on one spacing.
#[derive(Debug)]
pub struct GroupedCounter {
    kind: TallyKind,
    /// The label telling the members apart, and the pod-template hash label.
    label: String,
    hash_label: String,
    /// The grid's spacing: every read is at it.
    spacing_ms: i64,
    /// The last point read for every covered member; `None`: nothing read yet.
    end_ms: Option<i64>,
    /// Each member read, and the start of its grid (its tallies count from there).
    covered: BTreeMap<String, i64>,
    /// Each member's grid start as of the last plan it was in: where a tally new to it starts.
    starts: HashMap<String, i64>,
    /// The end of the last plan each member was in the class of.
    last_in_class: HashMap<String, i64>,
    /// Every covered member's tracks by (member, hash), counted. A series without either label
    /// is never picked, so it is not counted.
    tracks: HashMap<(String, String), Arc<Tally>>,
}

impl GroupedCounter {
    /// Nothing read yet of a counter of `kind` whose members are told apart by `label` and
    /// whose tracks by `hash_label`, read at `spacing_ms`.
    pub fn new(kind: TallyKind, label: &str, hash_label: &str, spacing_ms: i64) -> Self {
        Self {
            kind,
            label: label.to_string(),
            hash_label: hash_label.to_string(),
            spacing_ms: spacing_ms.max(1),
            end_ms: None,
            covered: BTreeMap::new(),
            starts: HashMap::new(),
            last_in_class: HashMap::new(),
            tracks: HashMap::new(),
        }
    }

    /// The last point read, if any (an entry no poll reads any more is dropped).
    pub fn end_ms(&self) -> Option<i64> {
        self.end_ms
    }

    /// The reads that make the counts complete up to `end_ms` (a settled point: nothing is
    /// read twice) for every member of `class` (member, the start of its grid): first the
    /// members read before, from the point after the last one read; then those not read before,
    /// or whose grid starts elsewhere now (a new rollout of the name), whole from the earliest
    /// start among them. A member missing from `class` is still read until it has been missing
    /// for [`FORGET_ABSENT_MS`]: the poll that planned may have been made before that member's
    /// rollout was read (at start-up the members' polls carry different pictures of the fleet,
    /// and forgetting at once read the same members whole again and again); then it is
    /// forgotten, and its counts with it.
    pub fn plan(&mut self, class: &[(String, i64)], end_ms: i64) -> Vec<Read> {
        for (member, start) in class {
            self.starts.insert(member.clone(), *start);
            self.last_in_class.insert(member.clone(), end_ms);
        }
        let last_in_class = &mut self.last_in_class;
        last_in_class.retain(|_, last| *last >= end_ms.saturating_sub(FORGET_ABSENT_MS));
        let starts = &mut self.starts;
        starts.retain(|m, _| last_in_class.contains_key(m));
        self.covered.retain(|m, from| starts.get(m) == Some(from));
        let covered = &self.covered;
        self.tracks.retain(|(m, _), _| covered.contains_key(m));
        if self.covered.is_empty() {
            self.tracks.clear();
            self.end_ms = None;
        }
        let mut reads = Vec::new();
        let last = self.end_ms;
        if let Some(last) = last
            && end_ms > last
        {
            reads.push(Read {
                members: self.covered.keys().cloned().collect(),
                from_ms: last.saturating_add(self.spacing_ms),
                end_ms,
                whole: false,
            });
        }
        let whole: Vec<&(String, i64)> = class
            .iter()
            .filter(|(m, _)| !self.covered.contains_key(m))
            .collect();
        if let Some(from_ms) = whole.iter().map(|(_, start)| *start).min() {
            let mut members: Vec<String> = whole.iter().map(|(m, _)| m.clone()).collect();
            members.sort();
            members.dedup();
            reads.push(Read {
                members,
                from_ms,
                // Up to the points the others hold, so that every member is complete as far.
                end_ms: last.map_or(end_ms, |l| l.max(end_ms)),
                whole: true,
            });
        }
        reads
    }

    /// Raw series counted, over every member.
    pub fn series_kept(&self) -> usize {
        self.tracks.values().map(|t| t.series()).sum()
    }

    /// Raw series a covered member has, on average; `None` before any is counted.
    pub fn series_per_member(&self) -> Option<usize> {
        let kept = self.series_kept();
        (kept > 0 && !self.covered.is_empty()).then(|| kept.div_ceil(self.covered.len()))
    }

    /// Counts the answer to `read` into the members' tallies; its members are complete from
    /// their starts to its end from now on.
    pub fn apply(&mut self, read: &Read, fetched: Vec<(Labels, Vec<Sample>)>) {
        self.lay((read.from_ms, read.end_ms), fetched);
        self.finish(read);
    }

    /// Counts one part of a read's answer, its points `[from_ms, end_ms]` (a read asked in
    /// parts, in time order: see [`Read::next_part`]).
    pub fn lay(&mut self, (from_ms, end_ms): (i64, i64), fetched: Vec<(Labels, Vec<Sample>)>) {
        let mut by_track: HashMap<(Arc<str>, Arc<str>), Vec<Series>> = HashMap::new();
        for (labels, points) in fetched {
            let (Some(member), Some(hash)) = (
                labels.get(self.label.as_str()),
                labels.get(self.hash_label.as_str()),
            ) else {
                continue;
            };
            let key = (member.clone(), hash.clone());
            by_track.entry(key).or_default().push((labels, points));
        }
        for (key, series) in by_track {
            let Some(start) = self.starts.get(key.0.as_ref()).copied() else {
                continue;
            };
            let (kind, spacing) = (self.kind, self.spacing_ms);
            let tally = self
                .tracks
                .entry((key.0.to_string(), key.1.to_string()))
                .or_insert_with(|| Arc::new(Tally::new(kind, start, spacing)));
            Arc::make_mut(tally).lay((from_ms, end_ms), &series);
        }
    }

    /// Every part of `read` was laid over: its members are complete from their starts to its
    /// end from now on. (A read left unfinished is asked again: its members stay uncovered,
    /// their tallies dropped at the next plan, or the last point read stays where it was and
    /// the points counted are skipped when read again.)
    pub fn finish(&mut self, read: &Read) {
        if read.whole {
            for m in &read.members {
                if let Some(start) = self.starts.get(m) {
                    self.covered.insert(m.clone(), *start);
                }
            }
        }
        self.end_ms = Some(self.end_ms.map_or(read.end_ms, |e| e.max(read.end_ms)));
    }

    /// `member`'s tally of the track `hash` on its grid from `start_ms`: what a read of that
    /// track alone over its grid would count; `None` when it had no series.
    pub fn pick(&self, (member, hash): (&str, &str), start_ms: i64) -> Option<Arc<Tally>> {
        self.tracks
            .get(&(member.to_string(), hash.to_string()))
            .filter(|t| t.start_ms() == start_ms)
            .cloned()
    }
}

/// Whether a counter's template is a bare selector (`name{…}`): its series can be read for the
/// whole fleet and told apart by their labels. Anything else (a function, an aggregation) is
/// read per rollout.
pub fn is_bare_selector(template: &str) -> bool {
    let t = template.trim();
    let name_end = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(t.len());
    if t[..name_end].starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let rest = &t[name_end..];
    if rest.is_empty() {
        return name_end > 0;
    }
    let Some(inside) = rest.strip_prefix('{') else {
        return false;
    };
    // The matchers end at the first `}` outside quotes, and nothing may follow it.
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in inside.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => quote = Some(c),
            None if c == '}' => return inside[i + 1..].trim().is_empty(),
            None if matches!(c, '(' | ')' | '{' | '[') => return false,
            None => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;

    const LABEL: &str = "rollout";
    const HASH: &str = "hash";

    #[test]
    fn only_bare_selectors_are_grouped() {
        for ok in [
            "http_requests_total{$selector}",
            r#"http_requests_total{$selector, code=~"5.."}"#,
            r#"x_bucket{$selector, path="/a}b"}"#,
            "{$selector}",
        ] {
            assert!(is_bare_selector(ok), "{ok}");
        }
        for no in [
            "sum by (le) (x_bucket{$selector})",
            "rate(x{$selector}[1m])",
            "x{$selector} + y{$selector}",
            "x{$selector}[5m]",
            "x{$selector} offset 1m",
            "",
        ] {
            assert!(!is_bare_selector(no), "{no}");
        }
    }

    /// A fake engine: per series (member, hash, pod) the counter counts `rate` a millisecond of
    /// its life from `born`, restarts at `reset` (if any), and is gone after `died`. A point is
    /// visible once `wall` has passed it, and final only half a spacing later (before: one
    /// request short, as a late scrape). The source asks for points a step old, so it never
    /// sees a point before it is final.
    #[derive(Debug, Clone)]
    struct FakeSeries {
        member: usize,
        hash: usize,
        pod: usize,
        born: i64,
        died: i64,
        reset: Option<i64>,
        rate: i64,
    }

    fn labels(s: &FakeSeries) -> Labels {
        Labels::from([
            (LABEL.into(), format!("m{}", s.member).into()),
            (HASH.into(), format!("h{}", s.hash).into()),
            ("pod".into(), format!("p{}", s.pod).into()),
        ])
    }

    fn value(s: &FakeSeries, t: i64, wall: i64, spacing: i64) -> Option<f64> {
        if t < s.born || t > s.died || t > wall {
            return None;
        }
        let since = match s.reset {
            Some(r) if t >= r => r,
            _ => s.born - 1_000_000,
        };
        let late = if wall < t + spacing / 2 { 1 } else { 0 };
        Some(((t - since) / 1_000 * s.rate - late).max(0) as f64)
    }

    /// What the engine answers for `members` over `[from, end]` at `spacing`, read at `wall`.
    fn answer(
        fake: &[FakeSeries],
        members: &[String],
        (from, end, spacing): (i64, i64, i64),
        wall: i64,
    ) -> Vec<(Labels, Vec<Sample>)> {
        fake.iter()
            .filter(|s| members.contains(&format!("m{}", s.member)))
            .filter_map(|s| {
                let points: Vec<Sample> = (0..)
                    .map(|k| from + k * spacing)
                    .take_while(|t| *t <= end)
                    .filter_map(|t| {
                        Some(Sample {
                            at: DateTime::from_timestamp_millis(t)?,
                            value: value(s, t, wall, spacing)?,
                        })
                    })
                    .collect();
                (!points.is_empty()).then(|| (labels(s), points))
            })
            .collect()
    }

    fn fake_series() -> impl Strategy<Value = FakeSeries> {
        (
            0..4usize,
            0..2usize,
            0..3usize,
            0..200i64,
            0..200i64,
            proptest::option::of(0..200i64),
            1..50i64,
        )
            .prop_map(|(member, hash, pod, born, life, reset, rate)| FakeSeries {
                member,
                hash,
                pod,
                born: born * 1_000,
                died: (born + life) * 1_000,
                reset: reset.map(|r| r * 1_000),
                rate,
            })
    }

    proptest! {
        /// Whatever the order and timing of the members' polls (members joining late, starting
        /// at different points, reading several times in a step or skipping steps), each
        /// member's tracks equal a read of that track alone over its grid at the last poll.
        #[test]
        fn each_member_gets_what_a_read_of_its_own_would_give(
            mut fake in proptest::collection::vec(fake_series(), 1..12),
            mut starts in proptest::collection::vec(0..150i64, 4),
            polls in proptest::collection::vec((0..4usize, 0..3i64, 0..4i64, 0..6u8, 0..6usize), 1..30),
            part in proptest::prop_oneof![1..4i64, proptest::strategy::Just(1_000i64)],
        ) {
            // No two fake series with the same labels.
            fake.sort_by_key(|s| (s.member, s.hash, s.pod));
            fake.dedup_by_key(|s| (s.member, s.hash, s.pod));
            let spacing = 5_000;
            let start_of = |starts: &[i64], m: usize| starts[m] * 1_000 / spacing * spacing;
            let mut entry = GroupedCounter::new(TallyKind::Plain, LABEL, HASH, spacing);
            let mut end = 150_000 / spacing * spacing;
            let mut joined = [false; 4];
            let mut sent = 0;
            let mut asked = std::collections::HashSet::new();
            // Each read asked in parts of `part` points (as the source does for a big one).
            let mut poll = |entry: &mut GroupedCounter, class: &[(String, i64)], end, wall, sent: &mut usize| {
                for read in entry.plan(class, end) {
                    let mut from = read.from_ms;
                    while let Some((part_from, part_end)) = read.next_part(from, spacing, part) {
                        *sent += 1;
                        // No member's point is asked twice but by a whole read (its start moved).
                        for member in &read.members {
                            for t in (part_from..=part_end).step_by(spacing as usize) {
                                let new = asked.insert((member.clone(), t));
                                assert!(new || read.whole, "{member} at {t} asked again");
                            }
                        }
                        entry.lay((part_from, part_end), answer(&fake, &read.members, (part_from, part_end, spacing), wall));
                        from = part_end + spacing;
                    }
                    entry.finish(&read);
                }
            };
            for (member, advance, lag, restart, unknown) in polls {
                end += advance * spacing;
                joined[member] = true;
                // Now and then a member's counting starts later (a new rollout of its name).
                if restart == 0 {
                    starts[member] = (starts[member] + 20).min(end / 1_000);
                }
                // Now and then the poll does not know another member yet (made before that
                // member's rollout was read).
                let class: Vec<(String, i64)> = (0..4)
                    .filter(|m| joined[*m] && (*m == member || *m != unknown))
                    .map(|m| (format!("m{m}"), start_of(&starts, m)))
                    .collect();
                // Asked up to a settled point: a step before `wall`, or more.
                poll(&mut entry, &class, end, end + spacing + lag * spacing / 4, &mut sent);
            }
            // A last poll after every point settled: each member as if read alone.
            end += spacing;
            let wall = end + spacing;
            let class: Vec<(String, i64)> = (0..4)
                .filter(|m| joined[*m])
                .map(|m| (format!("m{m}"), start_of(&starts, m)))
                .collect();
            poll(&mut entry, &class, end, wall, &mut sent);
            for (member, start) in &class {
                for hash in ["h0", "h1"] {
                    let got = entry
                        .pick((member, hash), *start)
                        .unwrap_or_else(|| Arc::new(Tally::new(TallyKind::Plain, *start, spacing)));
                    let alone: Vec<_> = answer(&fake, std::slice::from_ref(member), (*start, end, spacing), wall)
                        .into_iter()
                        .filter(|(l, _)| l.get(HASH).is_some_and(|h| h.as_ref() == hash))
                        .collect();
                    let grid: Vec<DateTime<chrono::Utc>> = (*start..=end)
                        .step_by(spacing as usize)
                        .filter_map(DateTime::from_timestamp_millis)
                        .collect();
                    let alone = Tally::whole(TallyKind::Plain, &grid, &alone);
                    prop_assert_eq!(got.first_seen(), alone.first_seen(), "{} {}", member, hash);
                    prop_assert_eq!(got.series(), alone.series(), "{} {}", member, hash);
                    let since = alone.first_seen().unwrap_or(0);
                    let blocks = |t: &Tally| -> Vec<f64> {
                        let column = t.columns(since).into_iter().next().map(|(_, c)| c).unwrap_or_default();
                        (0..grid.len().saturating_sub(1)).map(|i| column.get(i)).collect()
                    };
                    prop_assert_eq!(blocks(&got), blocks(&alone), "{} {}", member, hash);
                }
            }
            prop_assert!(sent >= 1);
        }
    }

    #[test]
    fn a_start_moved_later_reads_the_member_whole_from_it() {
        let mut entry = GroupedCounter::new(TallyKind::Plain, LABEL, HASH, 10);
        let at = |ms| DateTime::from_timestamp_millis(ms).expect("time");
        let series = |hash: &str, from: i64, to: i64| {
            let labels = Labels::from([(LABEL.into(), "a".into()), (HASH.into(), hash.into())]);
            let points = (from..=to).step_by(10).map(|t| Sample {
                at: at(t),
                value: t as f64,
            });
            (labels, points.collect::<Vec<_>>())
        };
        let reads = entry.plan(&[("a".to_string(), 0)], 200);
        assert_eq!(reads.len(), 1);
        // The old canary's hash stops at 100; the new one starts at 110.
        entry.apply(
            &reads[0],
            vec![series("old", 0, 100), series("new", 110, 200)],
        );
        assert_eq!(entry.series_kept(), 2);
        assert!(entry.pick(("a", "old"), 0).is_some());
        // A new rollout of the same name counts from 150: it is read whole from there, and the
        // old hash (no series since) is let go.
        let again = entry.plan(&[("a".to_string(), 150)], 200);
        assert_eq!(
            again,
            [Read {
                members: vec!["a".into()],
                from_ms: 150,
                end_ms: 200,
                whole: true
            }]
        );
        assert_eq!(entry.series_kept(), 0);
        entry.apply(&again[0], vec![series("new", 150, 200)]);
        let new = entry.pick(("a", "new"), 150).expect("new hash");
        assert_eq!(new.first_seen(), Some(0));
        let column = new.columns(0).into_iter().next().expect("one column").1;
        assert_eq!((0..5).map(|i| column.get(i)).collect::<Vec<_>>(), [10.0; 5]);
        assert!(entry.pick(("a", "old"), 150).is_none());
        assert_eq!(entry.plan(&[("a".to_string(), 150)], 200), []);
    }

    #[test]
    fn a_member_read_before_is_read_after_its_last_point_others_whole_once() {
        let mut entry = GroupedCounter::new(TallyKind::Plain, LABEL, HASH, 10);
        let class = |members: &[(&str, i64)]| -> Vec<(String, i64)> {
            members.iter().map(|(m, s)| (m.to_string(), *s)).collect()
        };
        let first = entry.plan(&class(&[("a", 10), ("b", 0)]), 100);
        assert_eq!(
            first,
            [Read {
                members: vec!["a".into(), "b".into()],
                from_ms: 0,
                end_ms: 100,
                whole: true
            }]
        );
        entry.apply(&first[0], vec![]);
        assert_eq!(entry.plan(&class(&[("a", 10), ("b", 0)]), 100), []);
        let next = entry.plan(&class(&[("a", 10), ("b", 0), ("c", 50)]), 110);
        assert_eq!(
            next,
            [
                Read {
                    members: vec!["a".into(), "b".into()],
                    from_ms: 110,
                    end_ms: 110,
                    whole: false
                },
                Read {
                    members: vec!["c".into()],
                    from_ms: 50,
                    end_ms: 110,
                    whole: true
                }
            ]
        );
        for read in &next {
            entry.apply(read, vec![]);
        }
        // A poll that does not know `b` (made before `b` was read): `b` is still read, not
        // forgotten and read whole again at the next poll that knows it.
        let without_b = entry.plan(&class(&[("a", 10), ("c", 50)]), 120);
        assert_eq!(
            without_b,
            [Read {
                members: vec!["a".into(), "b".into(), "c".into()],
                from_ms: 120,
                end_ms: 120,
                whole: false
            }]
        );
        entry.apply(&without_b[0], vec![]);
        let with_b = entry.plan(&class(&[("a", 10), ("b", 0), ("c", 50)]), 130);
        assert_eq!(
            with_b,
            [Read {
                members: vec!["a".into(), "b".into(), "c".into()],
                from_ms: 130,
                end_ms: 130,
                whole: false
            }]
        );
        entry.apply(&with_b[0], vec![]);
        // `b` missing for longer (it left this spacing, or the fleet): no longer read.
        let later = 130 + FORGET_ABSENT_MS + 10;
        assert_eq!(
            entry.plan(&class(&[("a", 10), ("c", 50)]), later),
            [Read {
                members: vec!["a".into(), "c".into()],
                from_ms: 140,
                end_ms: later,
                whole: false
            }]
        );
    }
}
