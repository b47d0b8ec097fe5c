//! A metric's raw counters, fetched per track over the shared grid, each answer counted into its
//! track's tally (`metrics::tally`), and the two tracks' tallies made counts by
//! `metrics::counts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::{DEFAULT_WINDOW, NO_TRACKS_YET, Outcome, PrometheusSource, Selectors, samples_touched};
use crate::domain::Sample;
use crate::domain::counts::{self as grids, CountKind, Counts};
use crate::metrics::budget::Priority;
use crate::metrics::counts::{self as counting, Tallies};
use crate::metrics::decode::{Labels, PromError, QueryData, Response};
use crate::metrics::tally::{Tally, TallyKind};
use crate::metrics::template::{self, Vars};
use crate::metrics::{Counters, CountsQuery, Group, MetricQuery};

/// The newest time a raw counter is read at: one poll step ago. A point is read once, when a
/// scrape stored late (up to a step behind) is in it; the judge sees each count a poll later.
fn settled(now: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(step).unwrap_or_default()
}

/// Raw counters counted so far, by query and grid: (grid start, spacing) → (last point read,
/// the track's tally). A grid that moved (a wider spacing as the canary ages, a new start) is
/// read whole. Each point is read once: only points a poll step old are read (see [`settled`]).
#[derive(Debug, Default)]
pub(super) struct CounterPoints {
    entries: std::sync::Mutex<HashMap<String, CounterEntry>>,
}

#[derive(Debug)]
struct CounterEntry {
    start_ms: i64,
    spacing_ms: i64,
    end_ms: i64,
    /// Counts per bucket bound and block, not the raw series: up to `MAX_BLOCKS` blocks.
    tally: Arc<Tally>,
}

impl CounterPoints {
    /// Where to read `query` from on this grid: the point after the last one read; `None`:
    /// from the grid's start.
    fn resume_from(&self, query: &str, start_ms: i64, spacing_ms: i64) -> Option<i64> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(query)?;
        (e.start_ms == start_ms && e.spacing_ms == spacing_ms && e.end_ms >= start_ms)
            .then(|| e.end_ms.saturating_add(spacing_ms))
    }

    /// The tally of `query` on this grid with `fetched` (its points `[from_ms, end_ms]`)
    /// counted in, kept for the next poll.
    fn count(
        &self,
        (query, kind): (&str, TallyKind),
        (start_ms, spacing_ms): (i64, i64),
        (from_ms, end_ms): (i64, i64),
        fetched: &[(Labels, Vec<Sample>)],
    ) -> Arc<Tally> {
        let fresh = || Tally::new(kind, start_ms, spacing_ms);
        let Ok(mut entries) = self.entries.lock() else {
            let mut tally = fresh();
            tally.lay((from_ms, end_ms), fetched);
            return Arc::new(tally);
        };
        let mut tally = match entries.remove(query) {
            Some(e) if e.start_ms == start_ms && e.spacing_ms == spacing_ms => e.tally,
            _ => Arc::new(fresh()),
        };
        Arc::make_mut(&mut tally).lay((from_ms, end_ms), fetched);
        entries.insert(
            query.to_string(),
            CounterEntry {
                start_ms,
                spacing_ms,
                end_ms,
                tally: tally.clone(),
            },
        );
        tally
    }

    /// Forgets the counters no poll asked for since `before_ms` (a finished canary, new hashes).
    pub(super) fn forget_older_than(&self, before_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.end_ms >= before_ms);
        }
    }
}

/// One track's raw counter as read this poll.
pub(super) enum TrackRead {
    /// Counted up to the poll's grid end, with what the engine warned.
    Counted(Arc<Tally>, Vec<String>),
    Failed(PromError),
    /// The engine answered something other than a range result.
    NotRange,
}

/// What one rollout's own counter reads answered, and what they cost.
struct OwnReads {
    reads: Vec<TrackRead>,
    /// Queries sent: none for a counter with no new point on its grid.
    sent: usize,
    points: u64,
    samples: Option<u64>,
}

impl PrometheusSource {
    /// A metric's raw counters, counted per track between the points of the shared grid: one
    /// range query per counter per track, decoded by `metrics::counts`.
    pub(super) async fn fetch_counts(
        &self,
        (priority, sel): (Priority, &Selectors),
        (metric, counts, group): (&MetricQuery, &CountsQuery, Option<&Group>),
        (baseline, canary): (&str, &str),
        now: DateTime<Utc>,
        step: Duration,
    ) -> Outcome<Counts> {
        let templates = match &counts.counters {
            Counters::Histogram(buckets) => {
                vec![("histogram", buckets.as_str(), TallyKind::Histogram)]
            }
            Counters::Ratio { errors, total } => vec![
                ("errors", errors.as_str(), TallyKind::Plain),
                ("total", total.as_str(), TallyKind::Plain),
            ],
        };
        let mut queries = Vec::with_capacity(templates.len() * 2);
        for (_, counter, _) in &templates {
            match (
                Self::render_counter(sel, counter, baseline),
                Self::render_counter(sel, counter, canary),
            ) {
                (Ok(b), Ok(c)) => queries.extend([b, c]),
                (Err(_), _) | (_, Err(_))
                    if baseline.trim().is_empty() || canary.trim().is_empty() =>
                {
                    return Outcome::failed(NO_TRACKS_YET.into());
                }
                (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
            }
        }
        let settled = settled(now, step);
        let grid = grids::grid(counts.since, settled, step);
        let (Some(&start), Some(&second), Some(&end)) = (grid.first(), grid.get(1), grid.last())
        else {
            // Nothing to count yet (a histogram's bounds are known from its first answer).
            let kind = match counts.counters {
                Counters::Histogram(_) => CountKind::Latency { bounds: Vec::new() },
                Counters::Ratio { .. } => CountKind::Errors,
            };
            return Outcome {
                result: Ok(Counts::new(kind)),
                warnings: Vec::new(),
                queries: 0,
                points: 0,
                samples: None,
            };
        };
        let spacing = Duration::from_millis((second - start).num_milliseconds().unsigned_abs());
        // A fleet's counters are read once per step for every member (`[fleet] group_by`).
        let grouped = join_all(templates.iter().map(|(_, counter, kind)| async move {
            let group = group?;
            self.grouped_counter(
                priority,
                group,
                (counter, *kind),
                (counts.since, settled, step),
            )
            .await
        }));
        let grouped = grouped.await;
        // The others per rollout: a query per track.
        let own: Vec<(&str, TallyKind)> = queries
            .iter()
            .enumerate()
            .filter(|(i, _)| grouped.get(i / 2).is_some_and(Option::is_none))
            .filter_map(|(i, q)| Some((q.as_str(), templates.get(i / 2)?.2)))
            .collect();
        let own = self
            .read_counters(priority, &own, (start, spacing, end))
            .await;
        let mut samples = own.samples;
        let mut points = own.points;
        let mut queries_sent = own.sent;
        let mut own_reads = own.reads.into_iter();
        let mut reads = Vec::with_capacity(queries.len());
        for g in grouped {
            match g {
                Some(g) => {
                    queries_sent += g.queries;
                    points += g.points;
                    super::add_samples(&mut samples, g.samples);
                    reads.extend([g.baseline, g.canary]);
                }
                None => reads.extend(own_reads.by_ref().take(2)),
            }
        }

        let mut warnings = Vec::new();
        let mut tallies = Vec::with_capacity(reads.len());
        let mut failures: Vec<PromError> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut reads = reads.into_iter();
        for (counter, _, _) in &templates {
            let (Some(baseline), Some(canary)) = (reads.next(), reads.next()) else {
                break;
            };
            if let (TrackRead::Failed(b), TrackRead::Failed(c)) = (&baseline, &canary)
                && b == c
            {
                // The same answer for both tracks: say it once.
                errors.push(format!("{counter} counter query: {b}"));
                failures.extend([b.clone(), c.clone()]);
                continue;
            }
            for (track, read) in [("baseline", baseline), ("canary", canary)] {
                match read {
                    TrackRead::Counted(tally, said) => {
                        warnings.extend(said);
                        tallies.push(tally);
                    }
                    TrackRead::NotRange => errors.push(format!(
                        "{track} {counter} counter query: expected a range result (matrix) \
                         from query_range"
                    )),
                    TrackRead::Failed(e) => {
                        errors.push(format!("{track} {counter} counter query: {e}"));
                        failures.push(e);
                    }
                }
            }
        }
        if !errors.is_empty() {
            // Prometheus down: say it once, not once per query.
            let result = match failures.split_first() {
                Some((first, rest))
                    if failures.len() == queries.len() && rest.iter().all(|e| e == first) =>
                {
                    first.to_string()
                }
                _ => errors.join("; "),
            };
            return Outcome {
                result: Err(result),
                warnings,
                queries: queries_sent,
                points,
                samples,
            };
        }
        let tallied = |counter: usize| Tallies {
            baseline_query: &queries[counter * 2],
            canary_query: &queries[counter * 2 + 1],
            baseline: &tallies[counter * 2],
            canary: &tallies[counter * 2 + 1],
        };
        let result = match &counts.counters {
            Counters::Histogram(_) => counting::histogram_of(&grid, tallied(0)).map(|(c, said)| {
                warnings.extend(said.into_iter().map(|w| format!("{}: {w}", metric.name)));
                c
            }),
            Counters::Ratio { .. } => counting::ratio_of(&grid, tallied(0), tallied(1)),
        };
        Outcome {
            result,
            warnings,
            queries: queries_sent,
            points,
            samples,
        }
    }

    /// Raw counters of one rollout's tracks, a query each over the grid `(start, spacing, end)`:
    /// each from the point after its last one read on this grid (nothing sent when there is no
    /// new point), whole the first time; each answer counted into its track's tally.
    async fn read_counters(
        &self,
        priority: Priority,
        queries: &[(&str, TallyKind)],
        (start, spacing, end): (DateTime<Utc>, Duration, DateTime<Utc>),
    ) -> OwnReads {
        let spacing_ms = i64::try_from(spacing.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let froms: Vec<DateTime<Utc>> = queries
            .iter()
            .map(|(q, _)| {
                self.counter_points
                    .resume_from(q, start.timestamp_millis(), spacing_ms)
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(start)
            })
            .collect();
        let responses = join_all(queries.iter().zip(&froms).map(|((q, _), from)| async move {
            if *from > end {
                // Every point of the grid was counted: the tally answers alone.
                return Ok(Response {
                    data: QueryData::Matrix(Vec::new()),
                    warnings: Vec::new(),
                    samples_touched: None,
                });
            }
            self.client
                .query_range_with(priority, q, *from, end, spacing)
                .await
        }))
        .await;
        let samples = samples_touched(&responses);
        let sent = froms.iter().filter(|from| **from <= end).count();
        let points = froms
            .iter()
            .filter(|from| **from <= end)
            .map(|from| {
                u64::try_from((end - *from).num_milliseconds() / spacing_ms + 1).unwrap_or(0)
            })
            .sum();
        let reads = responses
            .into_iter()
            .zip(queries)
            .zip(&froms)
            .map(|((response, query), from)| match response {
                Ok(Response {
                    data: QueryData::Matrix(series),
                    warnings,
                    ..
                }) => TrackRead::Counted(
                    self.counter_points.count(
                        *query,
                        (start.timestamp_millis(), spacing_ms),
                        (from.timestamp_millis(), end.timestamp_millis()),
                        &series,
                    ),
                    warnings,
                ),
                Ok(_) => TrackRead::NotRange,
                Err(e) => TrackRead::Failed(e),
            })
            .collect();
        OwnReads {
            reads,
            sent,
            points,
            samples,
        }
    }

    /// A counter's query for one track: the metric's variables, but no `$window` (a counter is
    /// read raw, never as a rate).
    fn render_counter(sel: &Selectors, counter: &str, selector: &str) -> Result<String, String> {
        let with_window = super::vars(sel, selector, DEFAULT_WINDOW);
        let raw = Vars {
            window: None,
            ..with_window
        };
        template::render(counter, &raw).map_err(|e| {
            if template::render(counter, &with_window).is_ok() {
                format!(
                    "counter query {counter} uses $window, but counters are read raw, \
                     never as a rate or increase: select the bare counter, {}",
                    "e.g. http_requests_total{$selector}"
                )
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{BASELINE, CANARY, metric, source, success, t};

    use crate::metrics::test_stub::{Reply, Seen, reply, stub};
    use crate::metrics::{FetchRequest, MetricsSource};
    use serde_json::json;

    // ---- Helpers ----

    // ---- The metrics source ----

    /// Raw counters per track: point k of the range is `start + k*step`; the canary serves a
    /// tenth of the baseline and its pod restarted before the last point.
    fn counter_answer(seen: &Seen) -> Reply {
        let param = |k: &str| seen.param(k).parse::<i64>().expect("whole seconds");
        let (start, end, step) = (param("start"), param("end"), param("step"));
        let q = seen.param("query");
        if q.starts_with("broken") {
            return reply(
                400,
                json!({"status": "error", "errorType": "bad_data", "error": "nope"}),
            );
        }
        let canary = q.contains("canary");
        let points = (end - start) / step + 1;
        let series = |labels: serde_json::Value, per_point: i64| {
            let values: Vec<_> = (0..points)
                .map(|k| {
                    let v = if canary && k == points - 1 {
                        per_point // restarted: counted once since
                    } else {
                        1_000 * per_point + k * per_point
                    };
                    json!([start + k * step, v.to_string()])
                })
                .collect();
            json!({"metric": labels, "values": values})
        };
        let scale = if canary { 1 } else { 10 };
        let result = if q.starts_with("http_request_duration_seconds_bucket") {
            vec![
                series(json!({"le": "0.1"}), 6 * scale),
                series(json!({"le": "0.50"}), 9 * scale),
                series(json!({"le": "+Inf"}), 10 * scale),
            ]
        } else if q.contains("5..") {
            vec![series(json!({"code": "500"}), scale)]
        } else {
            vec![
                series(json!({"code": "200"}), 9 * scale),
                series(json!({"code": "500"}), scale),
            ]
        };
        reply(
            200,
            success(json!({"resultType": "matrix", "result": result})),
        )
    }

    #[tokio::test]
    async fn counts_are_one_raw_range_query_per_counter_per_track_over_the_grid() {
        use crate::domain::counts::{CountKind, grid};
        use crate::metrics::{Counters, CountsQuery};
        let server = stub(counter_answer).await;
        let src = source(&server.url(""));
        let now = DateTime::from_timestamp_millis(1_700_000_017_500).expect("now");
        let since = t(1_700_000_000 - 60);
        let counted = |name: &str, counters: Counters| MetricQuery {
            counts: Some(CountsQuery { counters, since }),
            ..metric(name, "x{$selector}")
        };
        let mut request = FetchRequest {
            now,
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![
                counted(
                    "p95",
                    Counters::Histogram("http_request_duration_seconds_bucket{$selector}".into()),
                ),
                metric("plain", "x{$selector}"),
                counted(
                    "errors",
                    Counters::Ratio {
                        errors: r#"http_requests_total{$selector, code=~"5.."}"#.into(),
                        total: "http_requests_total{$selector}".into(),
                    },
                ),
                counted(
                    "windowed",
                    Counters::Histogram("rate(x_bucket{$selector}[$window])".into()),
                ),
                counted(
                    "broken",
                    Counters::Ratio {
                        errors: "broken{$selector}".into(),
                        total: "http_requests_total{$selector}".into(),
                    },
                ),
            ],
            slos: vec![],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let result = src.fetch(&request).await;
        let names: Vec<&str> = result.counts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p95", "errors", "windowed", "broken"]);
        // 2 per metric, 2 for the histogram, 4 per ratio, none for `$window`.
        assert_eq!(result.queries, 5 * 2 + 2 + 4 + 4);

        // Read up to a point a step old: 1_700_000_010 is not settled at …017.5.
        let points = grid(since, t(1_700_000_002), Duration::from_secs(15));
        assert_eq!(points.first(), Some(&t(1_699_999_935)));
        assert_eq!(points.last(), Some(&t(1_699_999_995)));
        let p95 = result.counts[0].1.as_ref().expect("p95");
        assert_eq!(
            p95.kind,
            CountKind::Latency {
                bounds: vec![0.1, 0.5, f64::INFINITY]
            }
        );
        assert_eq!(p95.len(), points.len() - 1);
        for (block, pair) in p95.blocks().zip(points.windows(2)) {
            assert_eq!((block.start, block.end), (pair[0], pair[1]));
            assert_eq!(block.baseline, [60.0, 30.0, 10.0]);
        }
        let canary: Vec<&[f64]> = p95.blocks().map(|b| b.canary).collect();
        assert_eq!(
            canary[..canary.len() - 1],
            vec![&[6.0, 3.0, 1.0][..]; points.len() - 2][..]
        );
        // The restarted canary pod counted one point's worth since its reset.
        assert_eq!(canary.last(), Some(&&[6.0, 3.0, 1.0][..]));

        let errors = result.counts[1].1.as_ref().expect("errors");
        assert_eq!(errors.kind, CountKind::Errors);
        assert!(
            errors
                .blocks()
                .all(|b| b.baseline == [10.0, 90.0] && b.canary == [1.0, 9.0])
        );

        let windowed = result.counts[2].1.as_ref().expect_err("$window");
        assert!(
            windowed.starts_with("counter query rate(x_bucket{$selector}[$window]) uses $window"),
            "{windowed}"
        );

        let broken = result.counts[3].1.as_ref().expect_err("broken");
        assert_eq!(
            broken,
            "errors counter query: nope (Prometheus rejected the query; HTTP 400, bad_data)"
        );

        let seen = server.seen();
        let ranges: Vec<&Seen> = seen
            .iter()
            .filter(|s| !s.param("query").starts_with(['x', 'b']))
            .collect();
        // The broken metric's total counter was sent too.
        assert_eq!(ranges.len(), 8);
        for s in &ranges {
            assert_eq!(s.path, "/api/v1/query_range");
            assert_eq!(s.param("start"), "1699999935");
            assert_eq!(s.param("end"), "1699999995");
            assert_eq!(s.param("step"), "15");
            assert!(!s.param("query").contains('$'), "{}", s.param("query"));
        }
        let mut queries: Vec<&str> = ranges.iter().map(|s| s.param("query")).collect();
        queries.sort_unstable();
        queries.dedup();
        assert_eq!(
            queries,
            [
                format!("http_request_duration_seconds_bucket{{{BASELINE}}}"),
                format!("http_request_duration_seconds_bucket{{{CANARY}}}"),
                format!("http_requests_total{{{BASELINE}, code=~\"5..\"}}"),
                format!("http_requests_total{{{BASELINE}}}"),
                format!("http_requests_total{{{CANARY}, code=~\"5..\"}}"),
                format!("http_requests_total{{{CANARY}}}"),
            ]
        );

        // Each point is read once: a poll in the same step sends no counter query, the next
        // step's asks for its one new point, and both count as the first did.
        let before = server.seen().len();
        let again = src.fetch(&request).await;
        let counter_reads = |from: usize| -> Vec<(String, String)> {
            server.seen()[from..]
                .iter()
                .filter(|s| !s.param("query").starts_with(['x', 'b']))
                .map(|s| (s.param("start").to_string(), s.param("end").to_string()))
                .collect()
        };
        assert_eq!(counter_reads(before), []);
        assert_eq!(again.counts[0].1, result.counts[0].1);
        request.now = now + chrono::Duration::seconds(15);
        let before = server.seen().len();
        let next = src.fetch(&request).await;
        let reads = counter_reads(before);
        assert_eq!(reads.len(), 8, "{reads:?}");
        assert!(
            reads
                .iter()
                .all(|r| *r == ("1700000010".to_string(), "1700000010".to_string())),
            "{reads:?}"
        );
        let next_p95 = next.counts[0].1.as_ref().expect("p95");
        assert_eq!(next_p95.len(), p95.len() + 1);
        assert_eq!(
            next_p95.blocks().take(p95.len()).collect::<Vec<_>>(),
            p95.blocks().collect::<Vec<_>>()
        );
        request.now = now;

        // Pod-hash tracks of the poll replace the configured selectors, as for the series.
        request.metrics.truncate(1);
        request.tracks = Some(crate::metrics::Tracks {
            baseline: r#"rollouts_pod_template_hash="5f7c9d6b8""#.into(),
            canary: r#"rollouts_pod_template_hash="7b9f4c6d5""#.into(),
        });
        let before = server.seen().len();
        let hashed = src.fetch(&request).await;
        assert!(hashed.counts[0].1.is_ok(), "{hashed:?}");
        let sent: Vec<String> = server.seen()[before..]
            .iter()
            .map(|s| s.param("query").to_string())
            .filter(|q| q.starts_with("http_request_duration"))
            .collect();
        assert_eq!(sent.len(), 2);
        assert!(
            sent.iter()
                .all(|q| q.contains("rollouts_pod_template_hash="))
        );

        // The canary started this very step: one point, no block yet, nothing sent.
        request.metrics[0].counts = Some(CountsQuery {
            counters: Counters::Histogram("http_request_duration_seconds_bucket{$selector}".into()),
            since: t(1_700_000_012),
        });
        let before = server.seen().len();
        let fresh = src.fetch(&request).await;
        let counts = fresh.counts[0].1.as_ref().expect("no blocks");
        assert!(counts.is_empty());
        assert_eq!(fresh.queries, 2, "only the metric's own queries");
        assert_eq!(server.seen().len(), before + 2);
    }
}
