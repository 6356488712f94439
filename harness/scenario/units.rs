//! Units that scenario files use for sizes, rates and durations.
//!
//! Decimal prefixes follow the published benchmarks this tool reproduces:
//! `1KB` is 1,000 bytes and `1MBps` is 10^6 bytes per second. Binary
//! prefixes are available where they are meant (`1KiB` = 1,024 bytes).
//!
//! | kind     | examples                                      |
//! |----------|-----------------------------------------------|
//! | size     | `10B`, `1KB`, `100KB`, `1MB`, `4KiB`, `1000`  |
//! | rate     | `1MBps`, `15MBps`, `500KBps`, `5000msgps`, `max` |
//! | duration | `500ms`, `10s`, `2m`, `1m30s`                 |
//!
//! A bare number is bytes for a size; rates always need a unit so that bytes
//! per second and messages per second are never confused.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A message body size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size(pub u64);

/// A producer rate: unthrottled, bytes per second, or messages per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Unthrottled: a bounded window in flight, as fast as the broker takes it.
    Max,
    /// Bytes of payload per second, summed over all producers.
    BytesPerSec(f64),
    /// Messages per second, summed over all producers.
    MsgsPerSec(f64),
}

/// A duration written as `10s`, `500ms`, `2m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

fn split_number(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(text.len());
    if end == 0 {
        return None;
    }
    let number: String = text[..end].chars().filter(|c| *c != '_').collect();
    let value: f64 = number.parse().ok()?;
    Some((value, text[end..].trim()))
}

impl Size {
    pub fn parse(text: &str) -> Result<Size, String> {
        let expected = SIZE_EXPECTED;
        let (value, unit) = split_number(text).ok_or_else(|| format!("`{text}` is not a size: expected {expected}"))?;
        let factor = match unit {
            "" | "B" => 1.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            _ => return Err(format!("`{text}` has an unknown size unit `{unit}`: expected {expected}")),
        };
        let bytes = value * factor;
        if bytes.fract() != 0.0 {
            return Err(format!("`{text}` is not a whole number of bytes"));
        }
        Ok(Size(bytes as u64))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Rate {
    pub fn parse(text: &str) -> Result<Rate, String> {
        let expected = RATE_EXPECTED;
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        let (value, unit) =
            split_number(trimmed).ok_or_else(|| format!("`{text}` is not a rate: expected {expected}"))?;
        if value <= 0.0 {
            return Err(format!("`{text}`: a rate must be above zero (use `max` for unthrottled)"));
        }
        match unit {
            "Bps" => Ok(Rate::BytesPerSec(value)),
            "KBps" | "kBps" => Ok(Rate::BytesPerSec(value * 1e3)),
            "MBps" => Ok(Rate::BytesPerSec(value * 1e6)),
            "GBps" => Ok(Rate::BytesPerSec(value * 1e9)),
            "msgps" | "msg/s" => Ok(Rate::MsgsPerSec(value)),
            "" => Err(format!("`{text}` has no unit: expected {expected}")),
            _ => Err(format!("`{text}` has an unknown rate unit `{unit}`: expected {expected}")),
        }
    }

    /// Messages per second for a given body size (`None` when unthrottled).
    pub fn msgs_per_sec(&self, payload_bytes: u64) -> Option<f64> {
        match *self {
            Rate::Max => None,
            Rate::BytesPerSec(b) => Some(b / payload_bytes as f64),
            Rate::MsgsPerSec(m) => Some(m),
        }
    }

    /// Bytes per second for a given body size (`None` when unthrottled).
    pub fn bytes_per_sec(&self, payload_bytes: u64) -> Option<f64> {
        self.msgs_per_sec(payload_bytes).map(|m| m * payload_bytes as f64)
    }

    /// The label used in point ids: `max`, `3MBps`, `5000msgps`.
    pub fn label(&self) -> String {
        match *self {
            Rate::Max => "max".into(),
            Rate::BytesPerSec(b) => {
                if b >= 1e6 && (b / 1e6).fract() == 0.0 {
                    format!("{}MBps", b / 1e6)
                } else if b >= 1e3 && (b / 1e3).fract() == 0.0 {
                    format!("{}KBps", b / 1e3)
                } else {
                    format!("{b}Bps")
                }
            }
            Rate::MsgsPerSec(m) => format!("{m}msgps"),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl Span {
    pub fn parse(text: &str) -> Result<Span, String> {
        humantime::parse_duration(text.trim())
            .map(Span)
            .map_err(|e| format!("`{text}` is not a duration ({e}): expected {SPAN_EXPECTED}"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Numbers and strings both deserialize into these unit types, so that
/// `payload: 1000` and `payload: 1KB` mean the same. Anything else (a map,
/// a list, a boolean) is refused with what a value of the kind looks like,
/// not with serde's internals.
struct UnitVisitor<T> {
    /// What a value looks like, for `invalid type: map, expected ...`.
    expected: &'static str,
    from_text: fn(&str) -> Result<T, String>,
    from_int: fn(u64) -> Result<T, String>,
    from_float: fn(f64) -> Result<T, String>,
}

impl<T> de::Visitor<'_> for UnitVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.from_text)(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.from_int)(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => (self.from_int)(v).map_err(E::custom),
            Err(_) => Err(E::custom(format!("`{v}` is negative: expected {}", self.expected))),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.from_float)(v).map_err(E::custom)
    }
}

const SIZE_EXPECTED: &str = "a size such as `10B`, `1KB` (1,000 B), `100KB`, `1MB` or `4KiB` (1,024 B)";
pub(crate) const RATE_EXPECTED: &str = "a rate such as `1MBps` (10^6 bytes/s), `500KBps`, `5000msgps` or `max`";
const SPAN_EXPECTED: &str = "a duration such as `500ms`, `10s` or `2m`";

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expected: SIZE_EXPECTED,
            from_text: Size::parse,
            from_int: |n| Ok(Size(n)),
            from_float: |f| Size::parse(&f.to_string()),
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expected: RATE_EXPECTED,
            from_text: Rate::parse,
            from_int: |n| Err(format!("rate `{n}` has no unit: write `{n}msgps` or `{n}Bps` (or `1MBps`, `max`)")),
            from_float: |n| Err(format!("rate `{n}` has no unit: write `{n}msgps` or `{n}MBps` (or `max`)")),
        })
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor {
            expected: SPAN_EXPECTED,
            from_text: Span::parse,
            from_int: |n| Err(format!("duration `{n}` has no unit: write `{n}s` or `{n}ms`")),
            from_float: |n| Err(format!("duration `{n}` has no unit: write `{n}s` or `{n}ms`")),
        })
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.label())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_decimal_prefixes() {
        assert_eq!(Size::parse("10B").unwrap(), Size(10));
        assert_eq!(Size::parse("1KB").unwrap(), Size(1000));
        assert_eq!(Size::parse("100KB").unwrap(), Size(100_000));
        assert_eq!(Size::parse("4KiB").unwrap(), Size(4096));
        assert_eq!(Size::parse("1.5KB").unwrap(), Size(1500));
        assert_eq!(Size::parse("250").unwrap(), Size(250));
        assert!(Size::parse("10XB").unwrap_err().contains("unknown size unit `XB`"));
        assert!(Size::parse("KB").is_err());
        assert!(Size::parse("1.5B").is_err());
    }

    #[test]
    fn rates_need_units() {
        assert_eq!(Rate::parse("1MBps").unwrap(), Rate::BytesPerSec(1e6));
        assert_eq!(Rate::parse("15MBps").unwrap(), Rate::BytesPerSec(15e6));
        assert_eq!(Rate::parse("5000msgps").unwrap(), Rate::MsgsPerSec(5000.0));
        assert_eq!(Rate::parse("max").unwrap(), Rate::Max);
        assert_eq!(Rate::parse("MAX").unwrap(), Rate::Max);
        assert!(Rate::parse("1000").unwrap_err().contains("no unit"));
        assert!(Rate::parse("0MBps").unwrap_err().contains("above zero"));
        assert!(Rate::parse("3Mbps").unwrap_err().contains("unknown rate unit"));
    }

    #[test]
    fn rate_labels_round_trip() {
        for text in ["max", "3MBps", "500KBps", "5000msgps", "750Bps"] {
            assert_eq!(Rate::parse(text).unwrap().label(), text);
        }
        let r = Rate::parse("1MBps").unwrap();
        assert_eq!(r.msgs_per_sec(1000), Some(1000.0));
        assert_eq!(Rate::MsgsPerSec(10.0).bytes_per_sec(100), Some(1000.0));
    }

    #[test]
    fn durations() {
        assert_eq!(Span::parse("10s").unwrap().0, Duration::from_secs(10));
        assert_eq!(Span::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert!(Span::parse("ten").is_err());
    }

    #[test]
    fn yaml_numbers_and_strings() {
        let s: Size = serde_yaml::from_str("1000").unwrap();
        assert_eq!(s, Size(1000));
        let r: Result<Rate, _> = serde_yaml::from_str("1000");
        assert!(r.unwrap_err().to_string().contains("no unit"));
        let d: Result<Span, _> = serde_yaml::from_str("5");
        assert!(d.unwrap_err().to_string().contains("no unit"));
    }
}
