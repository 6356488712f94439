//! A searched rate: `rate: {search: {max: 100MBps, p99: 50ms}}` asks for
//! the highest rate the broker sustains (schedule kept, backlog not
//! growing, nothing lost, the latency target held) up to `max`, instead of
//! a rate given in advance. The search itself runs in `run::search`; this
//! is its form in the file and in results.
//!
//! | key | default | meaning |
//! |-----|---------|---------|
//! | `max` | required | upper bound, a fixed rate (`100MBps`, `50000msgps`) |
//! | `p50`, `p99` or `p99.9` | none | the latency target (at most one); none: sustained means schedule, backlog and loss only |
//! | `latency` | `end_to_end` | which latency the target is of: `end_to_end` or `publish` |
//! | `probe` | `5s` | measurement window of each probe (after the point's `warmup`) |
//! | `tolerance` | `0.02` | the search stops when the bracket is narrower than this fraction of its top |
//! | `probes` | `12` | most probes, the unthrottled one included (the confirmation run is extra) |

use super::units::{Rate, Span, RATE_EXPECTED};
use serde::{de, Deserialize, Deserializer, Serialize};
use std::fmt;
use std::time::Duration;

/// How a searched rate is written, for error messages.
pub const SEARCH_EXAMPLE: &str = "`{search: {max: 100MBps, p99: 50ms}}`";

/// A value of `rate`: a fixed rate (or `max`), or a search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateSpec {
    Fixed(Rate),
    Search(SearchSpec),
}

/// Which latency a target is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    EndToEnd,
    Publish,
}

/// Which percentile a target bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Percentile {
    #[serde(rename = "p50")]
    P50,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "p99.9")]
    P999,
}

impl Percentile {
    pub fn label(&self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P99 => "p99",
            Percentile::P999 => "p99.9",
        }
    }
}

/// A latency target: `percentile` of `latency` at most `us` µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyTarget {
    pub latency: Metric,
    pub percentile: Percentile,
    pub us: u64,
}

impl LatencyTarget {
    /// `p99 50ms`, `publish p99.9 5ms`.
    pub fn label(&self) -> String {
        let of = if self.latency == Metric::Publish { "publish " } else { "" };
        format!("{of}{} {}", self.percentile.label(), Span(Duration::from_micros(self.us)))
    }
}

/// A search as the file gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSpec {
    pub max: Rate,
    pub target: Option<LatencyTarget>,
    pub probe: Duration,
    pub tolerance: f64,
    pub probes: u32,
}

pub const DEFAULT_PROBE: Duration = Duration::from_secs(5);
pub const DEFAULT_TOLERANCE: f64 = 0.02;
pub const DEFAULT_PROBES: u32 = 12;

impl SearchSpec {
    /// In point ids: `search`, `search-p99-50ms`, `search-publish-p99-5ms`.
    pub fn label(&self) -> String {
        match &self.target {
            None => "search".into(),
            Some(t) => format!("search-{}", t.label().replace(' ', "-")),
        }
    }

    pub fn resolve(&self, payload_bytes: u64) -> SearchParam {
        let msgs = self.max.msgs_per_sec(payload_bytes).unwrap_or(f64::INFINITY);
        SearchParam {
            max_msgs_per_s: msgs,
            max_bytes_per_s: msgs * payload_bytes as f64,
            target: self.target,
            probe_s: self.probe.as_secs_f64(),
            tolerance: self.tolerance,
            probes: self.probes,
        }
    }
}

impl RateSpec {
    /// The label used in point ids.
    pub fn label(&self) -> String {
        match self {
            RateSpec::Fixed(r) => r.label(),
            RateSpec::Search(s) => s.label(),
        }
    }
}

/// A search as points and results carry it (`params.search`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchParam {
    pub max_msgs_per_s: f64,
    pub max_bytes_per_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<LatencyTarget>,
    pub probe_s: f64,
    pub tolerance: f64,
    pub probes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    max: Option<Rate>,
    p50: Option<Span>,
    p99: Option<Span>,
    #[serde(rename = "p99.9", alias = "p999")]
    p999: Option<Span>,
    latency: Option<Metric>,
    probe: Option<Span>,
    tolerance: Option<f64>,
    probes: Option<u32>,
}

impl RawSearch {
    fn check(self) -> Result<SearchSpec, String> {
        let max = match self.max {
            None => {
                return Err(format!(
                    "a searched rate needs `max`, its upper bound (a fixed rate such as `100MBps` or `50000msgps`): {SEARCH_EXAMPLE}"
                ))
            }
            Some(Rate::Max) => {
                return Err(
                    "the `max` of a search is its upper bound, a fixed rate such as `100MBps` or `50000msgps`, not `max`"
                        .into(),
                )
            }
            Some(r) => r,
        };
        let targets: Vec<(Percentile, Span)> =
            [(Percentile::P50, self.p50), (Percentile::P99, self.p99), (Percentile::P999, self.p999)]
                .into_iter()
                .filter_map(|(p, s)| s.map(|s| (p, s)))
                .collect();
        if targets.len() > 1 {
            return Err("a search has one latency target: give one of `p50`, `p99` or `p99.9`".into());
        }
        let target = match targets.first() {
            Some((_, s)) if s.0 < Duration::from_micros(1) => {
                return Err(format!("latency target `{s}` must be at least 1µs"));
            }
            Some((p, s)) => Some(LatencyTarget {
                latency: self.latency.unwrap_or(Metric::EndToEnd),
                percentile: *p,
                us: s.0.as_micros() as u64,
            }),
            None if self.latency.is_some() => {
                return Err(
                    "`latency` says which latency the target is of: give a target (`p50`, `p99` or `p99.9`) too".into(),
                )
            }
            None => None,
        };
        let probe = self.probe.map(|s| s.0).unwrap_or(DEFAULT_PROBE);
        if probe < Duration::from_millis(100) {
            return Err(format!("`probe` ({}) must be at least 100ms: a probe measures a window", Span(probe)));
        }
        let tolerance = self.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(0.001..=0.5).contains(&tolerance) {
            return Err(format!(
                "`tolerance` is a fraction of the rate between 0.001 and 0.5 (0.02 is 2%), not {tolerance}"
            ));
        }
        let probes = self.probes.unwrap_or(DEFAULT_PROBES);
        if probes < 2 {
            return Err(format!(
                "`probes` must be at least 2 (the unthrottled probe and one at a fixed rate), not {probes}"
            ));
        }
        Ok(SearchSpec { max, target, probe, tolerance, probes })
    }
}

impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        struct V;
        fn fixed<E: de::Error>(r: Result<Rate, de::value::Error>) -> Result<RateSpec, E> {
            r.map(RateSpec::Fixed).map_err(|e| E::custom(e.to_string()))
        }
        impl<'de> de::Visitor<'de> for V {
            type Value = RateSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{RATE_EXPECTED}, or a searched rate {SEARCH_EXAMPLE}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RateSpec, E> {
                Rate::parse(v).map(RateSpec::Fixed).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RateSpec, E> {
                fixed(Rate::deserialize(v.into_deserializer()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RateSpec, E> {
                fixed(Rate::deserialize(v.into_deserializer()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RateSpec, E> {
                fixed(Rate::deserialize(v.into_deserializer()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RateSpec, A::Error> {
                let key: Option<String> = map.next_key()?;
                match key.as_deref() {
                    Some("search") => {
                        let raw: RawSearch = map.next_value()?;
                        if let Some(other) = map.next_key::<String>()? {
                            return Err(de::Error::custom(format!(
                                "a searched rate is the one key `search`, not also `{other}`: {SEARCH_EXAMPLE}"
                            )));
                        }
                        raw.check().map(RateSpec::Search).map_err(de::Error::custom)
                    }
                    other => Err(de::Error::custom(format!(
                        "invalid type: map{}, expected {RATE_EXPECTED}, or a searched rate {SEARCH_EXAMPLE}",
                        other.map(|k| format!(" with key `{k}`")).unwrap_or_default()
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RateSpec, String> {
        serde_yaml::from_str::<RateSpec>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_search_with_defaults_and_its_label() {
        let RateSpec::Search(s) = parse("{search: {max: 100MBps, p99: 50ms}}").unwrap() else { panic!() };
        assert_eq!(s.max, Rate::BytesPerSec(1e8));
        assert_eq!(
            s.target,
            Some(LatencyTarget { latency: Metric::EndToEnd, percentile: Percentile::P99, us: 50_000 })
        );
        assert_eq!((s.probe, s.tolerance, s.probes), (DEFAULT_PROBE, DEFAULT_TOLERANCE, DEFAULT_PROBES));
        assert_eq!(s.label(), "search-p99-50ms");
        let RateSpec::Search(s) = parse("{search: {max: 5000msgps, p99.9: 5ms, latency: publish}}").unwrap() else {
            panic!()
        };
        assert_eq!(s.label(), "search-publish-p99.9-5ms");
        assert_eq!(s.resolve(1000).max_bytes_per_s, 5e6);
        assert_eq!(parse("{search: {max: 1MBps}}").unwrap().label(), "search");
        assert_eq!(parse("3MBps").unwrap(), RateSpec::Fixed(Rate::BytesPerSec(3e6)));
    }

    #[test]
    fn bad_searches_say_what_would_be_right() {
        for (text, says) in [
            ("{search: {p99: 50ms}}", "needs `max`"),
            ("{search: {max: max, p99: 50ms}}", "not `max`"),
            ("{search: {max: 1MBps, p99: fifty}}", "not a duration"),
            ("{search: {max: 1MBps, p50: 1ms, p99: 5ms}}", "one latency target"),
            ("{search: {max: 1MBps, latency: publish}}", "give a target"),
            ("{search: {max: 1MBps, tolerance: 2}}", "between 0.001 and 0.5"),
            ("{search: {max: 1MBps, p95: 5ms}}", "unknown field `p95`"),
            ("{serch: {max: 1MBps}}", "searched rate `{search:"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
