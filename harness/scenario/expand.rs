//! Sweep expansion: the cartesian product of every list in a broker's
//! workload and options, in a fixed order, with stable point ids.

use super::model::{BrokerSpec, OneOrMany, Provision, WorkloadSpec};
use super::point::{BrokerTarget, Params, Point, RateParam};
use super::search::RateSpec;
use super::security::Security;
use super::units::{Rate, Size, Span};
use std::time::Duration;

/// Built-in defaults for every knob a scenario leaves unset.
pub fn builtin_workload() -> WorkloadSpec {
    WorkloadSpec {
        payload: Some(OneOrMany::One(Size(1000))),
        rate: Some(OneOrMany::One(RateSpec::Fixed(Rate::BytesPerSec(1e6)))),
        topics: Some(OneOrMany::One(1)),
        producers: Some(OneOrMany::One(1)),
        subscriptions: Some(OneOrMany::One(1)),
        consumers: Some(OneOrMany::One(1)),
        partitions: Some(OneOrMany::One(1)),
        warmup: Some(OneOrMany::One(Span(Duration::from_secs(2)))),
        duration: Some(OneOrMany::One(Span(Duration::from_secs(10)))),
        drain: Some(OneOrMany::One(Span(Duration::from_secs(5)))),
        in_flight: Some(OneOrMany::One(1000)),
        repeats: Some(1),
        backlog: Some(false),
    }
}

/// `over` wins over `base`, knob by knob.
pub fn layer(base: &WorkloadSpec, over: &WorkloadSpec) -> WorkloadSpec {
    WorkloadSpec {
        payload: over.payload.clone().or_else(|| base.payload.clone()),
        rate: over.rate.clone().or_else(|| base.rate.clone()),
        topics: over.topics.clone().or_else(|| base.topics.clone()),
        producers: over.producers.clone().or_else(|| base.producers.clone()),
        subscriptions: over.subscriptions.clone().or_else(|| base.subscriptions.clone()),
        consumers: over.consumers.clone().or_else(|| base.consumers.clone()),
        partitions: over.partitions.clone().or_else(|| base.partitions.clone()),
        warmup: over.warmup.clone().or_else(|| base.warmup.clone()),
        duration: over.duration.clone().or_else(|| base.duration.clone()),
        drain: over.drain.clone().or_else(|| base.drain.clone()),
        in_flight: over.in_flight.clone().or_else(|| base.in_flight.clone()),
        repeats: over.repeats.or(base.repeats),
        backlog: over.backlog.or(base.backlog),
    }
}

fn vals<T: Clone>(v: &Option<OneOrMany<T>>) -> Vec<T> {
    v.as_ref().map(|v| v.values()).unwrap_or_default()
}

/// A label for an option value in a point id.
fn value_label(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts a YAML option value to JSON, the form adapters parse.
pub fn yaml_to_json(v: &serde_yaml::Value) -> Result<serde_json::Value, String> {
    serde_json::to_value(v).map_err(|e| format!("option value cannot be represented: {e}"))
}

/// One option's value in a combination, and whether the file sweeps it.
pub type OptionValue = (String, serde_json::Value, bool);

/// Every option combination of a broker, in key order.
pub fn option_combinations(spec: &BrokerSpec) -> Result<Vec<Vec<OptionValue>>, (String, String)> {
    let mut combos: Vec<Vec<OptionValue>> = vec![Vec::new()];
    for (key, value) in &spec.options {
        let values = value.values();
        let swept = values.len() > 1;
        let mut json_values = Vec::new();
        for v in &values {
            json_values.push(yaml_to_json(v).map_err(|e| (key.clone(), e))?);
        }
        let mut next = Vec::new();
        for combo in &combos {
            for v in &json_values {
                let mut c = combo.clone();
                c.push((key.clone(), v.clone(), swept));
                next.push(c);
            }
        }
        combos = next;
    }
    Ok(combos)
}

/// Expands one broker into its points (already-validated inputs);
/// `securities` holds the broker's checked `security:` values (one `None`
/// when it has none), a sweep dimension like any other.
pub fn expand_broker(
    spec: &BrokerSpec,
    adapter: &str,
    provision: Provision,
    workload: &WorkloadSpec,
    securities: &[Option<Security>],
) -> Result<Vec<Point>, (String, String)> {
    let payloads = vals(&workload.payload);
    let rates = vals(&workload.rate);
    let topics = vals(&workload.topics);
    let producers = vals(&workload.producers);
    let subscriptions = vals(&workload.subscriptions);
    let consumers = vals(&workload.consumers);
    let partitions = vals(&workload.partitions);
    let warmups = vals(&workload.warmup);
    let durations = vals(&workload.duration);
    let drains = vals(&workload.drain);
    let in_flights = vals(&workload.in_flight);
    let repeats = workload.repeats.unwrap_or(1).max(1);
    let backlog = workload.backlog.unwrap_or(false);
    let option_sets = option_combinations(spec)?;

    let target = BrokerTarget {
        name: spec.name.clone(),
        adapter: adapter.to_string(),
        provision,
        endpoint: spec.endpoint.clone(),
        image: spec.image.clone(),
    };
    // An odometer over every dimension, payload outermost, so that points
    // come out in the order a reader expects (size, then rate, then the rest).
    let radices = [
        payloads.len(),
        rates.len(),
        topics.len(),
        producers.len(),
        subscriptions.len(),
        consumers.len(),
        partitions.len(),
        warmups.len(),
        durations.len(),
        drains.len(),
        in_flights.len(),
        option_sets.len(),
        securities.len(),
    ];
    let total: usize = radices.iter().product();
    let mut points = Vec::with_capacity(total * repeats as usize);
    for n in 0..total {
        let mut digits = [0usize; 13];
        let mut rest = n;
        for (d, radix) in digits.iter_mut().zip(radices.iter()).rev() {
            *d = rest % radix;
            rest /= radix;
        }
        let [pay, rat, top, pro, sub, con, par, war, dur, dra, inf, opt, sec] = digits;
        let (payload, rate) = (payloads[pay], rates[rat]);
        let mut id = format!("{}/payload={}/rate={}", spec.name, payload.0, rate.label());
        let mut dim = |name: &str, values: usize, v: String| {
            if values > 1 {
                id.push_str(&format!("/{name}={v}"));
            }
        };
        dim("topics", topics.len(), topics[top].to_string());
        dim("producers", producers.len(), producers[pro].to_string());
        dim("subscriptions", subscriptions.len(), subscriptions[sub].to_string());
        dim("consumers", consumers.len(), consumers[con].to_string());
        dim("partitions", partitions.len(), partitions[par].to_string());
        dim("warmup", warmups.len(), warmups[war].to_string());
        dim("duration", durations.len(), durations[dur].to_string());
        dim("drain", drains.len(), drains[dra].to_string());
        dim("in_flight", in_flights.len(), in_flights[inf].to_string());
        if backlog {
            id.push_str("/backlog");
        }
        let mut options = serde_json::Map::new();
        for (k, v, swept) in &option_sets[opt] {
            if *swept {
                id.push_str(&format!("/{k}={}", value_label(v)));
            }
            options.insert(k.clone(), v.clone());
        }
        if securities.len() > 1 {
            id.push_str(&format!("/security={}", super::security::label_of(securities[sec].as_ref())));
        }
        let params = Params {
            payload_bytes: payload.0,
            // A searched point runs probes at fixed rates; until then it
            // records no rate of its own.
            rate: match rate {
                RateSpec::Fixed(r) => RateParam::from_rate(r, payload.0),
                RateSpec::Search(_) => RateParam::Max(super::point::MaxTag::Max),
            },
            rate_label: rate.label(),
            search: match rate {
                RateSpec::Search(s) => Some(s.resolve(payload.0)),
                RateSpec::Fixed(_) => None,
            },
            topics: topics[top],
            producers: producers[pro],
            subscriptions: subscriptions[sub],
            consumers: consumers[con],
            partitions: partitions[par],
            warmup_s: warmups[war].0.as_secs_f64(),
            duration_s: durations[dur].0.as_secs_f64(),
            drain_s: drains[dra].0.as_secs_f64(),
            in_flight: in_flights[inf],
            backlog,
            security: securities[sec].clone(),
            options,
        };
        for repeat in 0..repeats {
            points.push(Point { id: id.clone(), repeat, broker: target.clone(), params: params.clone() });
        }
    }
    Ok(points)
}
