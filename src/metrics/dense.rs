//! A raw counter's points on a fixed grid (the range read's start and step), kept as values
//! only: 8 bytes a point instead of a timestamped sample's 16 to 24. The sequential judge keeps
//! every raw series of a rollout for up to `MAX_BLOCKS` points, and a fleet of 50 holds
//! thousands of them: this is most of what a long-lived console keeps.

use chrono::DateTime;

use crate::domain::Sample;

/// A point the answer did not have: a NaN no engine sends (theirs decode to the canonical NaN,
/// kept as a value like any other).
const ABSENT: f64 = f64::from_bits(0x7ff8_dead_0000_0001);

fn is_absent(v: f64) -> bool {
    v.to_bits() == ABSENT.to_bits()
}

/// One series' values from `first_ms`, one per `spacing_ms`, [`ABSENT`] where it had none.
#[derive(Debug, Clone)]
pub struct DenseSeries {
    first_ms: i64,
    spacing_ms: i64,
    values: Vec<f64>,
}

impl DenseSeries {
    /// Nothing yet, on the grid of `spacing_ms` through `first_ms`.
    pub fn new(first_ms: i64, spacing_ms: i64) -> Self {
        Self {
            first_ms,
            spacing_ms: spacing_ms.max(1),
            values: Vec::new(),
        }
    }

    /// Grid points held, gaps included.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The grid index of `at_ms`: the nearest point, the earlier one on a tie. Range answers
    /// are on the grid (they start on it and step by the spacing); rounding only matters to an
    /// engine that is not.
    fn index(&self, at_ms: i64) -> i64 {
        let since = at_ms - self.first_ms;
        let (points, rest) = (
            since.div_euclid(self.spacing_ms),
            since.rem_euclid(self.spacing_ms),
        );
        points + i64::from(2 * rest > self.spacing_ms)
    }

    /// `points` (in time order) laid over what is kept from their first on: a point read again
    /// replaces the old one, and everything after it is read again too.
    pub fn lay_over(&mut self, points: &[Sample]) {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return;
        };
        let from = self.index(first.at.timestamp_millis());
        if from <= 0 {
            self.values.clear();
            self.first_ms += from * self.spacing_ms;
        } else {
            self.values
                .truncate(usize::try_from(from).unwrap_or(usize::MAX));
        }
        let wanted = usize::try_from(self.index(last.at.timestamp_millis()) + 1).unwrap_or(0);
        let grow = wanted.saturating_sub(self.values.len());
        // Grown by at most an eighth at a time: a step's points do not double a long series'
        // room.
        if self.values.capacity() - self.values.len() < grow {
            self.values.reserve_exact(grow.max(self.values.len() / 8));
        }
        for p in points {
            let Ok(i) = usize::try_from(self.index(p.at.timestamp_millis())) else {
                continue;
            };
            if i >= self.values.len() {
                self.values.resize(i + 1, ABSENT);
            }
            self.values[i] = p.value;
        }
    }

    /// Drops the points before `start_ms`; whether any point is left.
    pub fn forget_before(&mut self, start_ms: i64) -> bool {
        let len = i64::try_from(self.values.len()).unwrap_or(i64::MAX);
        let drop = (start_ms - self.first_ms + self.spacing_ms - 1)
            .div_euclid(self.spacing_ms)
            .clamp(0, len);
        self.values.drain(..usize::try_from(drop).unwrap_or(0));
        self.first_ms += drop * self.spacing_ms;
        if self.values.capacity() > 2 * self.values.len() {
            self.values
                .shrink_to(self.values.len() + self.values.len() / 8);
        }
        self.values.iter().any(|v| !is_absent(*v))
    }

    /// Drops the points from `from_ms` on (an increment reads them again, and a series the
    /// increment no longer has ends there).
    pub fn forget_from(&mut self, from_ms: i64) {
        let keep = (from_ms - self.first_ms + self.spacing_ms - 1)
            .div_euclid(self.spacing_ms)
            .max(0);
        self.values
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
    }

    /// The points in `[start_ms, end_ms]` as samples, gaps left out.
    pub fn cut(&self, start_ms: i64, end_ms: i64) -> Vec<Sample> {
        let len = i64::try_from(self.values.len()).unwrap_or(i64::MAX);
        let s = self.spacing_ms;
        let from = (start_ms.saturating_sub(self.first_ms).saturating_add(s - 1))
            .div_euclid(s)
            .clamp(0, len);
        let to = (end_ms.saturating_sub(self.first_ms).div_euclid(s) + 1).clamp(from, len);
        let index = |i: i64| usize::try_from(i).unwrap_or(0);
        let values = &self.values[index(from)..index(to)];
        // Exactly the room the points need: a rollout keeps these for its whole step, and a
        // collected filter grew them by doubling (up to twice their size, for every member).
        let mut points = Vec::with_capacity(values.iter().filter(|v| !is_absent(**v)).count());
        points.extend((from..to).zip(values).filter_map(|(i, &value)| {
            (!is_absent(value)).then_some(())?;
            Some(Sample {
                at: DateTime::from_timestamp_millis(self.first_ms + i * s)?,
                value,
            })
        }));
        points
    }

    /// Every point held, gaps left out.
    #[cfg(test)]
    pub fn samples(&self) -> Vec<Sample> {
        self.cut(i64::MIN, i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("time")
    }

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(t, value)| Sample { at: at(t), value })
            .collect()
    }

    fn pairs(s: &[Sample]) -> Vec<(i64, f64)> {
        s.iter()
            .map(|s| (s.at.timestamp_millis(), s.value))
            .collect()
    }

    #[test]
    fn gaps_are_left_out_and_an_engines_nan_is_kept() {
        let mut d = DenseSeries::new(100, 10);
        d.lay_over(&samples(&[(100, 1.0), (130, f64::NAN), (140, 4.0)]));
        // Read again from the last point: it is replaced, and the new ones follow.
        d.lay_over(&samples(&[(140, 5.0), (160, 7.0)]));
        let got = pairs(&d.samples());
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], (100, 1.0));
        assert!(got[1].0 == 130 && got[1].1.is_nan());
        assert_eq!(&got[2..], [(140, 5.0), (160, 7.0)]);
        assert_eq!(d.len(), 7);
        // A cut inside.
        assert_eq!(pairs(&d.cut(131, 150)), [(140, 5.0)]);
        assert_eq!(pairs(&d.cut(170, 300)), []);
        // Cut with the room its points take and no more: members keep these for a whole step.
        let long = DenseSeries {
            first_ms: 0,
            spacing_ms: 10,
            values: (0..1_000)
                .map(|i| if i % 10 == 3 { ABSENT } else { 1.0 })
                .collect(),
        };
        let cut = long.cut(0, 10_000);
        assert_eq!((cut.len(), cut.capacity()), (900, 900));
        // A read from before what is kept starts it again there.
        d.lay_over(&samples(&[(80, 0.0)]));
        assert_eq!(pairs(&d.samples()), [(80, 0.0)]);
    }

    #[test]
    fn forgetting_keeps_the_points_from_the_start_on() {
        let mut d = DenseSeries::new(0, 10);
        d.lay_over(&samples(&[(0, 1.0), (10, 2.0), (20, 3.0), (30, 4.0)]));
        assert!(d.forget_before(15));
        assert_eq!(pairs(&d.samples()), [(20, 3.0), (30, 4.0)]);
        assert!(!d.forget_before(100));
        assert!(d.is_empty());
    }

    #[test]
    fn forgetting_from_a_time_keeps_what_came_before_it() {
        let mut d = DenseSeries::new(0, 10);
        d.lay_over(&samples(&[(0, 1.0), (10, 2.0), (20, 3.0)]));
        d.forget_from(11);
        assert_eq!(pairs(&d.samples()), [(0, 1.0), (10, 2.0)]);
        d.forget_from(10);
        assert_eq!(pairs(&d.samples()), [(0, 1.0)]);
        // Laid over after a gap: the points between stay absent.
        d.lay_over(&samples(&[(30, 4.0)]));
        assert_eq!(pairs(&d.samples()), [(0, 1.0), (30, 4.0)]);
        d.forget_from(-5);
        assert!(d.is_empty());
    }

    #[test]
    fn an_off_grid_point_goes_to_the_nearest_the_earlier_on_a_tie() {
        let mut d = DenseSeries::new(0, 10);
        d.lay_over(&samples(&[(4, 1.0), (15, 2.0), (26, 3.0)]));
        assert_eq!(pairs(&d.samples()), [(0, 1.0), (10, 2.0), (30, 3.0)]);
    }
}
