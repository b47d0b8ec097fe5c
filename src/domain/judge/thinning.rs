//! Thinning a series to the points that are independent enough to test: one per query window.

/// The values of the points at least `spacing` apart, counted back from the newest: points of a
/// query over a `[1m]` window polled every 5s share most of their requests, and testing them as
/// if independent makes every interval too narrow (the judge then flaps FAIL/PASS on a healthy
/// canary). One point per window is what the data really holds.
pub fn independent_points(
    points: &[crate::domain::Sample],
    spacing: std::time::Duration,
) -> Vec<f64> {
    let spacing = chrono::Duration::from_std(spacing).unwrap_or_default();
    let mut kept: Vec<f64> = Vec::new();
    let mut last: Option<chrono::DateTime<chrono::Utc>> = None;
    for p in points.iter().rev() {
        if last.is_none_or(|t| t - p.at >= spacing) {
            kept.push(p.value);
            last = Some(p.at);
        }
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_points_keep_one_per_window_from_the_newest() {
        let t0 = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let points: Vec<crate::domain::Sample> = (0..13)
            .map(|i| crate::domain::Sample {
                at: t0 + chrono::Duration::seconds(5 * i),
                value: i as f64,
            })
            .collect();
        // Every 5s over 60s windows: the newest (12), then 60s back (0).
        assert_eq!(
            independent_points(&points, std::time::Duration::from_secs(60)),
            vec![0.0, 12.0]
        );
        assert_eq!(
            independent_points(&points, std::time::Duration::from_secs(20)),
            vec![0.0, 4.0, 8.0, 12.0]
        );
        assert_eq!(
            independent_points(&points, std::time::Duration::ZERO).len(),
            13
        );
    }
}
