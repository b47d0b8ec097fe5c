//! Measured values: which track a value is from, its unit (and how to show it), and sample
//! series over time. The vocabulary gates, judges and metric definitions are written in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    Baseline,
    Canary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    Ratio,
    Percent,
    Rps,
    Bytes,
    #[default]
    None,
}

impl Unit {
    /// A value with its unit, scaled for reading: `182ms`, `1.92s`, `0.41%`, `212 rps`, `12.3MB`.
    pub fn format(self, value: f64) -> String {
        if !value.is_finite() {
            return if value.is_nan() {
                "NaN".into()
            } else if value > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            };
        }
        match self {
            Unit::Seconds => {
                if value.abs() < 1.0 {
                    format!("{:.0}ms", value * 1000.0)
                } else {
                    format!("{value:.2}s")
                }
            }
            Unit::Ratio => format_percent(value * 100.0),
            Unit::Percent => format_percent(value),
            Unit::Rps => {
                if value.abs() >= 100.0 {
                    format!("{value:.0} rps")
                } else {
                    format!("{value:.1} rps")
                }
            }
            Unit::Bytes => {
                let units = ["B", "KB", "MB", "GB", "TB"];
                let mut v = value;
                let mut i = 0;
                while v.abs() >= 1000.0 && i + 1 < units.len() {
                    v /= 1000.0;
                    i += 1;
                }
                format!("{v:.1}{}", units[i])
            }
            Unit::None => format!("{value:.3}"),
        }
    }

    /// A signed difference in this unit (`+73ms`, `-0.12%`). Ratios show percentage points.
    pub fn format_delta(self, delta: f64) -> String {
        let sign = if delta >= 0.0 { "+" } else { "-" };
        format!("{sign}{}", self.format(delta.abs()))
    }
}

fn format_percent(pct: f64) -> String {
    if pct != 0.0 && pct.abs() < 0.1 {
        format!("{pct:.3}%")
    } else {
        format!("{pct:.2}%")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Points in time order, spaced by the poll interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub points: Vec<Sample>,
}

impl Series {
    pub fn new(points: Vec<Sample>) -> Self {
        Self { points }
    }

    /// The newest point with a finite value.
    pub fn latest(&self) -> Option<Sample> {
        self.points
            .iter()
            .rev()
            .find(|s| s.value.is_finite())
            .copied()
    }

    /// The newest point, finite or not: a NaN at the end means "no data now", not "use an older one".
    pub fn last(&self) -> Option<Sample> {
        self.points.last().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Points no older than `since`.
    pub fn since(&self, since: DateTime<Utc>) -> impl Iterator<Item = &Sample> {
        self.points.iter().filter(move |s| s.at >= since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_format_for_reading() {
        assert_eq!(Unit::Seconds.format(0.182), "182ms");
        assert_eq!(Unit::Seconds.format(1.92), "1.92s");
        assert_eq!(Unit::Ratio.format(0.041), "4.10%");
        assert_eq!(Unit::Ratio.format(0.0002), "0.020%");
        assert_eq!(Unit::Rps.format(212.4), "212 rps");
        assert_eq!(Unit::Bytes.format(12_300_000.0), "12.3MB");
        assert_eq!(Unit::Seconds.format_delta(-0.073), "-73ms");
        assert_eq!(Unit::Seconds.format(f64::NAN), "NaN");
    }

    #[test]
    fn latest_skips_non_finite_but_last_does_not() {
        let t = chrono::DateTime::<Utc>::UNIX_EPOCH;
        let s = Series::new(vec![
            Sample { at: t, value: 1.0 },
            Sample {
                at: t,
                value: f64::NAN,
            },
        ]);
        assert_eq!(s.latest().map(|p| p.value), Some(1.0));
        assert!(s.last().is_some_and(|p| p.value.is_nan()));
    }
}
