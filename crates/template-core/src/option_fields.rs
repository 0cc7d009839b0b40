//! Serde adapters for option fields, shared by every crate's option types
//! so one unit reads and fails the same way everywhere: durations as
//! seconds (fractions allowed, never negative) and counts of at least 1.
//! Use them with `#[serde(with = "template_core::option_fields::seconds")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// A [`Duration`] as a number of seconds (fractions allowed), for
/// `#[serde(with = "...")]`.
pub mod seconds {
    use super::*;

    /// Writes the duration as seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// Reads a non-negative number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
        let value = f64::deserialize(d)?;
        Duration::try_from_secs_f64(value).map_err(|e| {
            serde::de::Error::custom(format!(
                "{value} is not a duration in seconds ({e}); give a non-negative number"
            ))
        })
    }
}

/// An optional [`Duration`] as a number of seconds, for
/// `#[serde(with = "...")]` on `Option<Duration>` fields.
pub mod optional_seconds {
    use super::*;

    /// Writes the duration as seconds, or nothing.
    pub fn serialize<S: Serializer>(
        d: &Option<Duration>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    /// Reads a non-negative number of seconds, or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(value) => Duration::try_from_secs_f64(value).map(Some).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{value} is not a duration in seconds ({e}); give a non-negative number"
                ))
            }),
        }
    }
}

/// A count that must be at least 1, for `#[serde(with = "...")]`.
pub mod at_least_one {
    use super::*;

    /// Writes the count.
    pub fn serialize<S: Serializer>(n: &usize, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_u64(*n as u64)
    }

    /// Reads a count of at least 1.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
        let value = usize::deserialize(d)?;
        if value == 0 {
            return Err(serde::de::Error::custom("must be at least 1, got 0"));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Fields {
        #[serde(with = "super::seconds")]
        wait: Duration,
        #[serde(with = "super::optional_seconds")]
        lease: Option<Duration>,
        #[serde(with = "super::at_least_one")]
        workers: usize,
    }

    fn read(text: &str) -> Result<Fields, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn fields_round_trip_in_seconds() {
        let fields = read(r#"{"wait": 1.5, "lease": null, "workers": 2}"#).unwrap();
        assert_eq!(fields.wait, Duration::from_millis(1500));
        assert_eq!(fields.lease, None);
        let text = serde_json::to_string(&fields).unwrap();
        assert_eq!(text, r#"{"wait":1.5,"lease":null,"workers":2}"#);
    }

    #[test]
    fn negative_durations_and_zero_counts_are_refused_with_the_rule() {
        let negative = read(r#"{"wait": -1, "lease": null, "workers": 1}"#).unwrap_err();
        assert!(negative.contains("non-negative"), "{negative}");
        let lease = read(r#"{"wait": 1, "lease": -2, "workers": 1}"#).unwrap_err();
        assert!(lease.contains("non-negative"), "{lease}");
        let zero = read(r#"{"wait": 1, "lease": 3, "workers": 0}"#).unwrap_err();
        assert!(zero.contains("at least 1"), "{zero}");
    }
}
