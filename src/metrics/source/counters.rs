//! A metric's raw counters, fetched per track over the shared grid and counted by
//! `metrics::counts`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::{DEFAULT_WINDOW, NO_TRACKS_YET, Outcome, PrometheusSource, Selectors, samples_touched};
use crate::domain::Sample;
use crate::domain::counts::{self as grids, CountKind, Counts};
use crate::metrics::budget::Priority;
use crate::metrics::counts::{self as counting, Answers};
use crate::metrics::decode::{Labels, PromError, QueryData, Response};
use crate::metrics::dense::DenseSeries;
use crate::metrics::template::{self, Vars};
use crate::metrics::{Counters, CountsQuery, Group, MetricQuery};

/// The newest time a raw counter is read at: one poll step ago. A point is read once, when a
/// scrape stored late (up to a step behind) is in it; the judge sees each count a poll later.
fn settled(now: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(step).unwrap_or_default()
}

/// Raw counters read so far, by query and grid: (grid start, spacing) → (last point read, the
/// series). A grid that moved (a wider spacing as the canary ages, a new start) is read whole.
/// Each point is read once: only points a poll step old are read (see [`settled`]).
#[derive(Debug, Default)]
pub(super) struct CounterPoints {
    entries: std::sync::Mutex<HashMap<String, CounterEntry>>,
}

#[derive(Debug)]
struct CounterEntry {
    start_ms: i64,
    spacing_ms: i64,
    end_ms: i64,
    /// Dense: a rollout keeps each raw series for up to `MAX_BLOCKS` points.
    series: Vec<(Labels, DenseSeries)>,
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

    /// The series read before on this grid with `fetched` laid over them, kept for the next
    /// poll.
    fn merge(
        &self,
        query: &str,
        (start_ms, spacing_ms, end_ms): (i64, i64, i64),
        fetched: Vec<(Labels, Vec<Sample>)>,
    ) -> Vec<(Labels, Vec<Sample>)> {
        let Ok(mut entries) = self.entries.lock() else {
            return fetched;
        };
        let mut series = match entries.remove(query) {
            Some(e) if e.start_ms == start_ms && e.spacing_ms == spacing_ms => e.series,
            _ => Vec::new(),
        };
        for (labels, points) in fetched {
            let Some(first) = points.first().map(|p| p.at.timestamp_millis()) else {
                continue;
            };
            match series.iter_mut().find(|(l, _)| *l == labels) {
                Some((_, old)) => old.lay_over(&points),
                None => {
                    let mut kept = DenseSeries::new(first, spacing_ms);
                    kept.lay_over(&points);
                    series.push((labels, kept));
                }
            }
        }
        let answer = series
            .iter()
            .map(|(labels, kept)| (labels.clone(), kept.samples()))
            .filter(|(_, points)| !points.is_empty())
            .collect();
        entries.insert(
            query.to_string(),
            CounterEntry {
                start_ms,
                spacing_ms,
                end_ms,
                series,
            },
        );
        answer
    }

    /// Forgets the counters no poll asked for since `before_ms` (a finished canary, new hashes).
    pub(super) fn forget_older_than(&self, before_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.end_ms >= before_ms);
        }
    }
}

/// What one rollout's own counter reads answered, and what they cost.
struct OwnReads {
    responses: Vec<Result<Response, PromError>>,
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
            Counters::Histogram(buckets) => vec![("histogram", buckets.as_str())],
            Counters::Ratio { errors, total } => {
                vec![("errors", errors.as_str()), ("total", total.as_str())]
            }
        };
        let mut queries = Vec::with_capacity(templates.len() * 2);
        for (_, counter) in &templates {
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
                result: Ok(Counts {
                    kind,
                    blocks: Vec::new(),
                }),
                warnings: Vec::new(),
                queries: 0,
                points: 0,
                samples: None,
            };
        };
        let spacing = Duration::from_millis((second - start).num_milliseconds().unsigned_abs());
        // A fleet's counters are read once per step for every member (`[fleet] group_by`).
        let grouped = join_all(templates.iter().map(|(_, counter)| async move {
            let group = group?;
            self.grouped_counter(priority, group, counter, (counts.since, settled, step))
                .await
        }));
        let grouped = grouped.await;
        // The others per rollout: a query per track.
        let own: Vec<&str> = queries
            .iter()
            .enumerate()
            .filter(|(i, _)| grouped.get(i / 2).is_some_and(Option::is_none))
            .map(|(_, q)| q.as_str())
            .collect();
        let own = self
            .read_counters(priority, &own, (start, spacing, end))
            .await;
        let mut samples = own.samples;
        let mut points = own.points;
        let mut queries_sent = own.sent;
        let mut own_responses = own.responses.into_iter();
        let mut responses = Vec::with_capacity(queries.len());
        for g in grouped {
            match g {
                Some(g) => {
                    queries_sent += g.queries;
                    points += g.points;
                    super::add_samples(&mut samples, g.samples);
                    responses.extend([g.baseline, g.canary]);
                }
                None => responses.extend(own_responses.by_ref().take(2)),
            }
        }

        let mut warnings = Vec::new();
        let mut matrices = Vec::with_capacity(responses.len());
        let mut failures: Vec<PromError> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut responses = responses.into_iter();
        for (counter, _) in &templates {
            let (Some(baseline), Some(canary)) = (responses.next(), responses.next()) else {
                break;
            };
            if let (Err(b), Err(c)) = (&baseline, &canary)
                && b == c
            {
                // The same answer for both tracks: say it once.
                errors.push(format!("{counter} counter query: {b}"));
                failures.extend([b.clone(), c.clone()]);
                continue;
            }
            for (track, response) in [("baseline", baseline), ("canary", canary)] {
                match response {
                    Ok(Response {
                        data: QueryData::Matrix(series),
                        warnings: said,
                        ..
                    }) => {
                        warnings.extend(said);
                        matrices.push(series);
                    }
                    Ok(_) => errors.push(format!(
                        "{track} {counter} counter query: expected a range result (matrix) \
                         from query_range"
                    )),
                    Err(e) => {
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
        let answers = |counter: usize| Answers {
            baseline_query: &queries[counter * 2],
            canary_query: &queries[counter * 2 + 1],
            baseline: &matrices[counter * 2],
            canary: &matrices[counter * 2 + 1],
        };
        let result = match &counts.counters {
            Counters::Histogram(_) => counting::histogram(&grid, answers(0)).map(|(c, said)| {
                warnings.extend(said.into_iter().map(|w| format!("{}: {w}", metric.name)));
                c
            }),
            Counters::Ratio { .. } => counting::ratio(&grid, answers(0), answers(1)),
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
    /// new point), whole the first time; the answers laid over the points read before.
    async fn read_counters(
        &self,
        priority: Priority,
        queries: &[&str],
        (start, spacing, end): (DateTime<Utc>, Duration, DateTime<Utc>),
    ) -> OwnReads {
        let spacing_ms = i64::try_from(spacing.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let froms: Vec<DateTime<Utc>> = queries
            .iter()
            .map(|q| {
                self.counter_points
                    .resume_from(q, start.timestamp_millis(), spacing_ms)
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(start)
            })
            .collect();
        let responses = join_all(queries.iter().zip(&froms).map(|(q, from)| async move {
            if *from > end {
                // Every point of the grid was read: the series kept answer alone.
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
        let responses = responses
            .into_iter()
            .zip(queries)
            .map(|(response, q)| {
                response.map(|mut r| {
                    if let QueryData::Matrix(series) = r.data {
                        r.data = QueryData::Matrix(self.counter_points.merge(
                            q,
                            (start.timestamp_millis(), spacing_ms, end.timestamp_millis()),
                            series,
                        ));
                    }
                    r
                })
            })
            .collect();
        OwnReads {
            responses,
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
        assert_eq!(p95.blocks.len(), points.len() - 1);
        for (block, pair) in p95.blocks.iter().zip(points.windows(2)) {
            assert_eq!((block.start, block.end), (pair[0], pair[1]));
            assert_eq!(block.baseline, [60.0, 30.0, 10.0]);
        }
        let canary: Vec<&[f64]> = p95.blocks.iter().map(|b| b.canary.as_slice()).collect();
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
                .blocks
                .iter()
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
        assert_eq!(next_p95.blocks.len(), p95.blocks.len() + 1);
        assert_eq!(next_p95.blocks[..p95.blocks.len()], p95.blocks[..]);
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
        assert!(counts.blocks.is_empty());
        assert_eq!(fresh.queries, 2, "only the metric's own queries");
        assert_eq!(server.seen().len(), before + 2);
    }
}
