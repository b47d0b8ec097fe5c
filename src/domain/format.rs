//! Human formatting of durations and ages, shared by the views, the events and the reasons.

use std::time::Duration;

/// `1h02m`, `3m05s`, `42s` — compact, fixed vocabulary, fits in narrow columns.
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 86_400 {
        let days = secs / 86_400;
        let hours = (secs % 86_400) / 3600;
        if hours == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{hours:02}h")
        }
    } else if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A relative change for a narrow column: `+34.9%`, or `+35%` when `whole`; beyond ±999% only
/// `>999%` (the digits past that say nothing more, and they overflow the column).
pub fn change_pct(pct: f64, whole: bool) -> String {
    if !pct.is_finite() || pct.abs() >= 999.5 {
        return if pct < 0.0 { "<-999%" } else { ">999%" }.into();
    }
    if whole {
        format!("{pct:+.0}%")
    } else {
        format!("{pct:+.1}%")
    }
}

/// A number in at most about 5 characters: `69.1`, `153`, `15.4k`, `2.3M`, `1.2G`.
pub fn compact_number(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 999.5e6 {
        (v / 1e9, "G")
    } else if a >= 999.5e3 {
        (v / 1e6, "M")
    } else if a >= 999.5 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if scaled.abs() >= 99.95 || (suffix.is_empty() && scaled.fract() == 0.0) {
        format!("{scaled:.0}{suffix}")
    } else {
        format!("{scaled:.1}{suffix}")
    }
}

/// The age between two instants, never negative (a clock skew shows as 0s, not as garbage).
pub fn age(from: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> Duration {
    (now - from).to_std().unwrap_or(Duration::ZERO)
}

/// Parse a humantime duration (`"10m"`, `"1h 30m"`, `"90s"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (expected a duration like \"30s\", \"10m\" or \"1h\")"))
}

/// Serde adapter for humantime durations in config and API payloads.
pub mod humantime_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use std::time::Duration;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| super::super::parse_duration(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// Which end of a text an [`excerpt`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The beginning (a name, a body): `checkout-…`.
    Start,
    /// The end (a command's output, where its error usually is): `…failed: no such pod`.
    End,
}

/// `text` in at most `max` characters: whole if it fits, else the end `keep` names, with `…`
/// marking the cut (the `…` counts in `max`). The one excerpt the views, the metrics client's
/// errors and the command backend's errors share; each caller says its own length.
pub fn excerpt(text: &str, max: usize, keep: Keep) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(1);
    match keep {
        Keep::Start => {
            let mut out: String = text.chars().take(room).collect();
            out.push('…');
            out
        }
        Keep::End => {
            let mut out = String::from('…');
            out.extend(text.chars().skip(count - room));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1h02m");
        assert_eq!(short_duration(Duration::from_secs(2 * 86_400)), "2d");
        assert_eq!(short_duration(Duration::from_secs(86_400 + 7200)), "1d02h");
    }

    #[test]
    fn changes_and_numbers_stay_narrow() {
        assert_eq!(change_pct(34.94, false), "+34.9%");
        assert_eq!(change_pct(46.3, true), "+46%");
        assert_eq!(change_pct(-67.3, false), "-67.3%");
        assert_eq!(change_pct(15384.7, false), ">999%");
        assert_eq!(change_pct(f64::INFINITY, true), ">999%");
        assert_eq!(compact_number(69.1), "69.1");
        assert_eq!(compact_number(201.0), "201");
        assert_eq!(compact_number(15384.7), "15.4k");
        assert_eq!(compact_number(-2_345_678.0), "-2.3M");
        assert_eq!(compact_number(999_999.0), "1.0M");
    }

    #[test]
    fn durations_parse_with_a_hint_on_error() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        let err = parse_duration("ten minutes").unwrap_err();
        assert!(err.contains("expected a duration"), "{err}");
    }

    #[test]
    fn an_excerpt_keeps_either_end_within_its_length() {
        assert_eq!(excerpt("checkout", 8, Keep::Start), "checkout");
        assert_eq!(excerpt("checkout", 5, Keep::Start), "chec…");
        assert_eq!(excerpt("checkout", 5, Keep::End), "…kout");
        assert_eq!(excerpt("ünïcødé", 4, Keep::Start), "ünï…");
        assert_eq!(excerpt("abc", 0, Keep::End), "…");
        assert_eq!(excerpt("", 0, Keep::Start), "");
    }
}
