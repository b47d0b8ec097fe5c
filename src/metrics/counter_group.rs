//! Raw counters read once per step for a whole fleet (`[fleet] group_by`): what has been read so
//! far of one counter for the members that share a grid spacing, which reads bring it up to a
//! poll's end, and each member's tracks picked from it (no I/O here: `source::grouped_counters`
//! sends the reads).
//!
//! Every member's grid points are multiples of its spacing since the epoch, so the members with
//! the same spacing share their points: one read at that spacing from the earliest start they
//! need holds each member's own grid, and a member's answer is its series (by the group label
//! and the hash label) cut to its own grid. Reads are incremental as per rollout: the members
//! read before are read only from the point after the last one read (the caller asks only for
//! settled points, so none is read twice), a member not read before (new in the fleet, or now
//! on this spacing) is read whole once from its start. Series are kept apart (never summed), so
//! resets are still counted per series.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::decode::Labels;
use super::dense::DenseSeries;
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

/// One series kept: its labels and its points on the spacing's grid.
#[derive(Debug)]
struct Kept {
    labels: Labels,
    points: DenseSeries,
}

/// One counter's series read so far for the members on one spacing.
#[derive(Debug)]
pub struct GroupedCounter {
    /// The label telling the members apart, and the pod-template hash label.
    label: String,
    hash_label: String,
    /// The grid's spacing: every read is at it.
    spacing_ms: i64,
    /// The last point read for every covered member; `None`: nothing read yet.
    end_ms: Option<i64>,
    /// Each member read, and from when its series are complete.
    covered: BTreeMap<String, i64>,
    /// Every covered member's raw series by (member, hash), each track's in the order first
    /// seen. A series without either label is never picked, so it is not kept.
    tracks: HashMap<(String, String), Vec<Kept>>,
}

impl GroupedCounter {
    /// Nothing read yet of a counter whose members are told apart by `label` and whose tracks
    /// by `hash_label`, read at `spacing_ms`.
    pub fn new(label: &str, hash_label: &str, spacing_ms: i64) -> Self {
        Self {
            label: label.to_string(),
            hash_label: hash_label.to_string(),
            spacing_ms: spacing_ms.max(1),
            end_ms: None,
            covered: BTreeMap::new(),
            tracks: HashMap::new(),
        }
    }

    /// The last point read, if any (an entry no poll reads any more is dropped).
    pub fn end_ms(&self) -> Option<i64> {
        self.end_ms
    }

    /// The reads that make the series complete up to `end_ms` (a settled point: nothing is
    /// read twice) for every member of `class` (member, the start of its grid): first the
    /// members read before, from the point after the last one read; then those not read before (or from later than they now need), whole from the
    /// earliest start among them. A member no longer in `class` is forgotten, and its series
    /// with it.
    pub fn plan(&mut self, class: &[(String, i64)], end_ms: i64) -> Vec<Read> {
        let keep: BTreeSet<&str> = class.iter().map(|(m, _)| m.as_str()).collect();
        self.covered.retain(|m, _| keep.contains(m.as_str()));
        let covered = &self.covered;
        self.tracks.retain(|(m, _), _| covered.contains_key(m));
        self.forget_before_starts(class);
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
            .filter(|(m, start)| self.covered.get(m).is_none_or(|from| from > start))
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

    /// Points before a member's start are never picked again (its rollout moved on: a new one
    /// of the same name, or a step the backend reports no history for): they are dropped, and
    /// the series with nothing later (an old canary's hash), so that a console left open keeps
    /// what its rollouts count, not everything it has read.
    fn forget_before_starts(&mut self, class: &[(String, i64)]) {
        let moved: HashMap<&str, i64> = class
            .iter()
            .filter(|(m, start)| self.covered.get(m).is_some_and(|from| from < start))
            .map(|(m, start)| (m.as_str(), *start))
            .collect();
        if moved.is_empty() {
            return;
        }
        self.tracks.retain(|(m, _), track| {
            if let Some(start) = moved.get(m.as_str()) {
                track.retain_mut(|kept| kept.points.forget_before(*start));
            }
            !track.is_empty()
        });
        for (m, start) in moved {
            if let Some(from) = self.covered.get_mut(m) {
                *from = start;
            }
        }
    }

    /// Series kept, over every member.
    pub fn series_kept(&self) -> usize {
        self.tracks.values().map(Vec::len).sum()
    }

    /// Points kept over every series, gaps included.
    #[cfg(test)]
    fn points_kept(&self) -> usize {
        self.tracks.values().flatten().map(|k| k.points.len()).sum()
    }

    /// Lays the answer to `read` over the series read before (a point read again replaces the
    /// old one); its members are complete from its start to its end from now on.
    pub fn apply(&mut self, read: &Read, fetched: Vec<(Labels, Vec<Sample>)>) {
        self.lay(fetched);
        self.finish(read);
    }

    /// Lays one part of a read's answer over the series read before (a read asked in parts,
    /// in time order: see [`Read::next_part`]).
    pub fn lay(&mut self, fetched: Vec<(Labels, Vec<Sample>)>) {
        for (labels, points) in fetched {
            let Some(first) = points.first().map(|p| p.at.timestamp_millis()) else {
                continue;
            };
            let (Some(member), Some(hash)) =
                (labels.get(&self.label), labels.get(&self.hash_label))
            else {
                continue;
            };
            let key = (member.clone(), hash.clone());
            let track = self.tracks.entry(key).or_default();
            let kept = match track.iter().position(|k| k.labels == labels) {
                Some(i) => &mut track[i],
                None => {
                    track.push(Kept {
                        labels,
                        points: DenseSeries::new(first, self.spacing_ms),
                    });
                    let last = track.len() - 1;
                    &mut track[last]
                }
            };
            kept.points.lay_over(&points);
        }
    }

    /// Every part of `read` was laid over: its members are complete from its start to its end
    /// from now on. (A read left unfinished is asked again: its members stay uncovered, or the
    /// last point read stays where it was.)
    pub fn finish(&mut self, read: &Read) {
        if read.whole {
            for m in &read.members {
                self.covered.insert(m.clone(), read.from_ms);
            }
        }
        self.end_ms = Some(self.end_ms.map_or(read.end_ms, |e| e.max(read.end_ms)));
    }

    /// `member`'s series of the track `hash`, cut to its grid `[start_ms, end_ms]`: what a read
    /// of that track alone over its grid would have returned.
    pub fn pick(
        &self,
        (member, hash): (&str, &str),
        (start_ms, end_ms): (i64, i64),
    ) -> Vec<(Labels, Vec<Sample>)> {
        let Some(track) = self.tracks.get(&(member.to_string(), hash.to_string())) else {
            return Vec::new();
        };
        track
            .iter()
            .filter_map(|kept| {
                let cut = kept.points.cut(start_ms, end_ms);
                (!cut.is_empty()).then(|| (kept.labels.clone(), cut))
            })
            .collect()
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
            (LABEL.to_string(), format!("m{}", s.member)),
            (HASH.to_string(), format!("h{}", s.hash)),
            ("pod".to_string(), format!("p{}", s.pod)),
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
            polls in proptest::collection::vec((0..4usize, 0..3i64, 0..4i64, 0..6u8), 1..30),
            part in proptest::prop_oneof![1..4i64, proptest::strategy::Just(1_000i64)],
        ) {
            // No two fake series with the same labels.
            fake.sort_by_key(|s| (s.member, s.hash, s.pod));
            fake.dedup_by_key(|s| (s.member, s.hash, s.pod));
            let spacing = 5_000;
            let start_of = |starts: &[i64], m: usize| starts[m] * 1_000 / spacing * spacing;
            let mut entry = GroupedCounter::new(LABEL, HASH, spacing);
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
                        // No member's point is asked twice.
                        for member in &read.members {
                            for t in (part_from..=part_end).step_by(spacing as usize) {
                                assert!(asked.insert((member.clone(), t)), "{member} at {t} asked again");
                            }
                        }
                        entry.lay(answer(&fake, &read.members, (part_from, part_end, spacing), wall));
                        from = part_end + spacing;
                    }
                    entry.finish(&read);
                }
            };
            for (member, advance, lag, restart) in polls {
                end += advance * spacing;
                joined[member] = true;
                // Now and then a member's counting starts later (a new rollout of its name).
                if restart == 0 {
                    starts[member] = (starts[member] + 20).min(end / 1_000);
                }
                let class: Vec<(String, i64)> = (0..4)
                    .filter(|m| joined[*m])
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
                    let got = entry.pick((member, hash), (*start, end));
                    let alone: Vec<_> = answer(&fake, std::slice::from_ref(member), (*start, end, spacing), wall)
                        .into_iter()
                        .filter(|(l, _)| l.get(HASH).is_some_and(|h| h == hash))
                        .collect();
                    let mut got_sorted = got.clone();
                    got_sorted.sort_by(|a, b| a.0.cmp(&b.0));
                    prop_assert_eq!(&got_sorted, &alone, "{} {}", member, hash);
                }
            }
            prop_assert!(sent >= 1);
        }
    }

    #[test]
    fn a_start_moved_later_drops_what_came_before_and_old_tracks() {
        let mut entry = GroupedCounter::new(LABEL, HASH, 10);
        let at = |ms| DateTime::from_timestamp_millis(ms).expect("time");
        let series = |hash: &str, from: i64, to: i64| {
            let labels = Labels::from([
                (LABEL.to_string(), "a".to_string()),
                (HASH.to_string(), hash.to_string()),
            ]);
            let points = (from..=to).step_by(10).map(|t| Sample {
                at: at(t),
                value: 1.0,
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
        assert_eq!(entry.points_kept(), 11 + 10);
        // A new rollout of the same name counts from 150: nothing before it is read again.
        assert_eq!(entry.plan(&[("a".to_string(), 150)], 200), []);
        assert_eq!(entry.points_kept(), 6);
        let got = entry.pick(("a", "new"), (150, 200));
        assert_eq!(got[0].1.len(), 6);
        assert!(entry.pick(("a", "old"), (0, 200)).is_empty());
    }

    #[test]
    fn a_member_read_before_is_read_after_its_last_point_others_whole_once() {
        let mut entry = GroupedCounter::new(LABEL, HASH, 10);
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
        // `b` left this spacing: no longer read.
        assert_eq!(
            entry.plan(&class(&[("a", 10), ("c", 50)]), 120),
            [Read {
                members: vec!["a".into(), "c".into()],
                from_ms: 120,
                end_ms: 120,
                whole: false
            }]
        );
    }
}
