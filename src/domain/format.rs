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
    fn durations_parse_with_a_hint_on_error() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        let err = parse_duration("ten minutes").unwrap_err();
        assert!(err.contains("expected a duration"), "{err}");
    }
}
