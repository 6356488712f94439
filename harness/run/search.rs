//! The search behind a searched rate (`rate: {search: ...}`): the highest
//! rate a broker sustains, found with short probes at fixed rates and
//! confirmed with one full-length run.
//!
//! A probe is **sustained** when all of these held over its window:
//! - schedule: the producers sent at least 99% of the rate, nothing due
//!   went unsent, and the schedule delay did not grow (the point's
//!   behind-schedule warnings);
//! - backlog: what was acknowledged and not yet received, from the
//!   window's start to its end, grew by at most a share of the rate per
//!   second of the window: 1% plus 50 ms (or the latency target when it is
//!   shorter) per `probe` window, since the backlog always fluctuates by
//!   what is in flight (over 5 s probes, 2% of the rate: a rate up to 2%
//!   above what the consumers keep up with passes). The confirmation run
//!   is judged by the same share, so a rate its probe sustained is not
//!   refused for being measured longer;
//! - loss: nothing lost and no send failed;
//! - latency: the target's percentile of end-to-end (or publish) latency
//!   is at most the target.
//!
//! The order: probe 0 runs unthrottled; what it delivered per second, U,
//! is where the fixed-rate probes start (`min(max, U)`). While no probe has
//! failed, each sustained one raises the rate by a step that starts at
//! x1.25 and squares each time (x1.25, x1.56, x2.44, ...: near U first,
//! far quickly when U was no guide), up to `max` (a sustained `max` ends
//! the search, limited by `max`); while none has been sustained, each
//! failed one lowers it by such steps; once a bracket exists the
//! search bisects it until its width is at most `tolerance` of its top or
//! the probe budget is spent; the bracket's top is then probed once more
//! (a single noisy failure would otherwise cap the answer for good: if it
//! holds, the next failed rate above it is the top and the bisection goes
//! on). The highest sustained rate is then run for
//! the point's full `duration` (the confirmation run, which carries the
//! point's id and the `capacity`). A confirmation run that is not
//! sustained, while the budget lasts, is recorded as one more (failed)
//! probe, its rate becomes the bracket's top and the search goes on below
//! it; once the budget is spent, the last confirmation run stands with
//! `confirmed: false` and a warning. A probe that fails outright (broker
//! errors, broker died) ends the search: the searched point is recorded
//! as failed with the reason, and the sweep goes on.
//!
//! This module decides; `run::run_loaded` runs each step and writes each
//! result as it ends.

use crate::results::{Capacity, Criterion, PointResult, Probe, Status};
use crate::scenario::point::MaxTag;
use crate::scenario::search::{Metric, Percentile, SearchParam};
use crate::scenario::{Point, RateParam};

/// Below this share of the rate the producers did not keep the schedule
/// (the point's behind-schedule warning uses the same).
const SCHEDULE_KEPT: f64 = 0.99;
/// Warning of a schedule delay that grew over the window (`run::point`).
const DELAY_GREW: &str = "schedule delay grew";
/// Backlog growth allowed per second: this share of the rate...
const BACKLOG_SHARE: f64 = 0.01;
/// ...plus the rate times this (or the latency target when shorter) per
/// probe window.
const BACKLOG_SLACK_S: f64 = 0.05;
/// The first step up or down before a bracket exists; squared after each.
const FIRST_STEP: f64 = 1.25;

/// What to do next.
pub enum Step {
    /// Run this point (a probe, or the confirmation run) and give its
    /// result to [`Search::judge`].
    Run(Box<Point>),
    /// Record this result as it is (the search ended without a
    /// confirmation run), then stop.
    Record(Box<PointResult>),
}

enum Phase {
    Unthrottled,
    Probing,
    Confirming,
    Done,
}

pub struct Search {
    point: Point,
    spec: SearchParam,
    phase: Phase,
    /// Probes run so far.
    probes: u32,
    /// The next rate to probe (msg/s).
    next: f64,
    /// Highest sustained rate.
    lo: Option<f64>,
    /// Lowest rate not sustained, and its first failed criterion.
    hi: Option<(f64, Criterion)>,
    /// Why the search ended early.
    ended: Option<String>,
    /// The next step up (no failed probe yet) and down (none sustained yet).
    up: f64,
    down: f64,
    /// Every rate sustained so far.
    sustained: Vec<f64>,
    /// Every rate not sustained so far, with its first failed criterion.
    failed: Vec<(f64, Criterion)>,
    /// Whether the bracket's top has been probed again (once a search).
    rechecked: bool,
    /// Whether the probe running is that second look.
    rechecking: bool,
}

impl Search {
    /// A search for `point`, which must carry `params.search`.
    pub fn new(point: &Point) -> Search {
        let spec = point.params.search.expect("a searched point");
        Search {
            point: point.clone(),
            spec,
            phase: Phase::Unthrottled,
            probes: 0,
            next: spec.max_msgs_per_s,
            lo: None,
            hi: None,
            ended: None,
            up: FIRST_STEP,
            down: FIRST_STEP,
            sustained: Vec::new(),
            failed: Vec::new(),
            rechecked: false,
            rechecking: false,
        }
    }

    fn probe_point(&self, msgs_per_s: Option<f64>) -> Point {
        let mut p = self.point.clone();
        p.id = format!("{}/probe={}", self.point.id, self.probes);
        p.params.search = None;
        p.params.duration_s = self.spec.probe_s;
        p.params.rate = self.rate(msgs_per_s);
        p.params.rate_label = match msgs_per_s {
            None => "max".into(),
            Some(m) => format!("{}msgps", m.round()),
        };
        p
    }

    fn rate(&self, msgs_per_s: Option<f64>) -> RateParam {
        match msgs_per_s {
            None => RateParam::Max(MaxTag::Max),
            Some(m) => RateParam::Fixed { bytes_per_s: m * self.point.params.payload_bytes as f64, msgs_per_s: m },
        }
    }

    /// The next step, `None` when the search is over.
    pub fn next_step(&mut self) -> Option<Step> {
        match self.phase {
            Phase::Unthrottled => Some(Step::Run(Box::new(self.probe_point(None)))),
            Phase::Probing => Some(Step::Run(Box::new(self.probe_point(Some(self.next))))),
            Phase::Confirming => {
                let mut p = self.point.clone();
                let found = self.lo.expect("confirming a sustained rate");
                p.params.rate = self.rate(Some(found));
                Some(Step::Run(Box::new(p)))
            }
            Phase::Done => self.ended.take().map(|why| {
                Step::Record(Box::new(super::point::failed_result(&self.point, why, "not measured".into())))
            }),
        }
    }

    /// Judges the result of the step just run and records the verdict in it.
    pub fn judge(&mut self, result: &mut PointResult) {
        match self.phase {
            Phase::Unthrottled | Phase::Probing => self.judge_probe(result),
            Phase::Confirming => {
                let failed = criteria(result, &self.spec);
                let lo = self.lo.expect("confirming a sustained rate");
                let confirmed = result.status == Status::Ok && failed.is_empty();
                if !confirmed && result.status == Status::Ok && self.probes < self.spec.probes {
                    return self.reprobe(result, lo, failed);
                }
                if !confirmed {
                    let what: Vec<&str> = failed.iter().map(|c| c.as_str()).collect();
                    result.warnings.push(format!(
                        "the confirmation run at {lo:.0} msg/s was not sustained ({}): the capacity is less certain than the probes said",
                        if what.is_empty() { "the point failed".to_string() } else { what.join(", ") }
                    ));
                }
                result.capacity = Some(Capacity {
                    msgs_per_s: lo,
                    bytes_per_s: lo * self.point.params.payload_bytes as f64,
                    limited_by: self.hi.map(|(_, c)| c).unwrap_or(Criterion::Max),
                    not_sustained_msgs_per_s: self.hi.map(|(r, _)| r),
                    probes: self.probes,
                    confirmed,
                });
                self.phase = Phase::Done;
            }
            Phase::Done => {}
        }
    }

    fn judge_probe(&mut self, result: &mut PointResult) {
        let index = self.probes;
        self.probes += 1;
        let unthrottled = matches!(self.phase, Phase::Unthrottled);
        let failed = if unthrottled { Vec::new() } else { criteria(result, &self.spec) };
        let sustained = !unthrottled && result.status == Status::Ok && failed.is_empty();
        result.probe = Some(Probe { search: self.point.id.clone(), index, sustained, failed: failed.clone() });
        if result.status == Status::Failed {
            self.ended = Some(format!(
                "the search ended at probe {index} ({}): {}",
                result.params.rate_label,
                result.error.as_deref().unwrap_or("the probe failed")
            ));
            self.phase = Phase::Done;
            return;
        }
        let max = self.spec.max_msgs_per_s;
        if unthrottled {
            let delivered = if result.params.subscriptions > 0 {
                result.throughput.publish_msgs_per_s.min(result.throughput.consume_msgs_per_s)
            } else {
                result.throughput.publish_msgs_per_s
            };
            if delivered <= 0.0 {
                self.ended = Some("the search ended at probe 0 (unthrottled): nothing was delivered".into());
                self.phase = Phase::Done;
                return;
            }
            self.next = delivered.min(max);
            self.phase = Phase::Probing;
            return;
        }
        let rate = self.next;
        if sustained {
            self.lo = Some(self.lo.map_or(rate, |lo| lo.max(rate)));
            self.sustained.push(rate);
            if self.rechecking {
                // The top held on a second look: its first failure was
                // noise, and the next failed rate above is the top.
                self.failed.retain(|(r, _)| *r > rate);
                self.hi = self.failed.iter().copied().reduce(|a, b| if b.0 < a.0 { b } else { a });
            }
        } else {
            let criterion = failed.first().copied().unwrap_or(Criterion::Schedule);
            self.failed.push((rate, criterion));
            if self.hi.is_none_or(|(h, _)| rate < h) {
                self.hi = Some((rate, criterion));
            }
        }
        self.rechecking = false;
        self.step();
    }

    /// A confirmation run that was not sustained is one more probe, failed:
    /// the rate it ran at becomes the bracket's top and the search goes on
    /// below it.
    fn reprobe(&mut self, result: &mut PointResult, lo: f64, failed: Vec<Criterion>) {
        let index = self.probes;
        self.probes += 1;
        result.id = format!("{}/probe={index}", self.point.id);
        result.params.search = None;
        result.params.rate_label = format!("{}msgps", lo.round());
        result
            .warnings
            .push(format!("a confirmation run at {lo:.0} msg/s, not sustained: the search went on below it"));
        result.probe = Some(Probe { search: self.point.id.clone(), index, sustained: false, failed: failed.clone() });
        self.sustained.retain(|r| *r < lo);
        self.lo = self.sustained.iter().copied().reduce(f64::max);
        self.hi = Some((lo, failed.first().copied().unwrap_or(Criterion::Schedule)));
        self.failed.extend(self.hi);
        self.phase = Phase::Probing;
        self.step();
    }

    /// Picks the next rate from the bracket, or ends the probing.
    fn step(&mut self) {
        let max = self.spec.max_msgs_per_s;
        self.next = match (self.lo, self.hi) {
            (Some(lo), None) if lo >= max => return self.confirm(),
            (Some(lo), None) => {
                let next = (lo * self.up).min(max);
                self.up *= self.up;
                next
            }
            (None, Some((hi, _))) => {
                let next = hi / self.down;
                self.down *= self.down;
                next
            }
            // A narrow bracket: its top is probed once more (a single
            // noisy failure would otherwise cap the answer for good), then
            // the bottom is confirmed.
            (Some(lo), Some((hi, _))) if hi - lo <= self.spec.tolerance * hi => {
                if self.rechecked || self.probes >= self.spec.probes {
                    return self.confirm();
                }
                self.rechecked = true;
                self.rechecking = true;
                hi
            }
            (Some(lo), Some((hi, _))) => (lo + hi) / 2.0,
            (None, None) => unreachable!("a probe was judged"),
        };
        if self.probes >= self.spec.probes {
            self.confirm();
        }
    }

    /// Ends the probing: confirm the highest sustained rate, or record why
    /// there is none.
    fn confirm(&mut self) {
        if self.lo.is_some() {
            self.phase = Phase::Confirming;
        } else {
            let (hi, c) = self.hi.expect("a probe was judged");
            self.ended = Some(format!(
                "no probed rate was sustained in {} probes: the lowest, {hi:.0} msg/s, failed on {}",
                self.probes,
                c.as_str()
            ));
            self.phase = Phase::Done;
        }
    }
}

/// The percentile of a latency summary that a target names.
fn percentile(s: &crate::measure::LatencySummary, p: Percentile) -> u64 {
    match p {
        Percentile::P50 => s.p50,
        Percentile::P99 => s.p99,
        Percentile::P999 => s.p999,
    }
}

/// Backlog at the window's start and end (per second of the series).
fn backlog_growth(r: &PointResult) -> i64 {
    let start = r.series.iter().rfind(|s| s.phase == "warmup").map_or(0, |s| s.backlog);
    let end = r.series.iter().rfind(|s| s.phase == "measure").map_or(start, |s| s.backlog);
    end as i64 - start as i64
}

/// The criteria a fixed-rate run failed, in the order schedule, backlog,
/// loss, latency.
pub fn criteria(r: &PointResult, spec: &SearchParam) -> Vec<Criterion> {
    let mut failed = Vec::new();
    let rate = r.params.rate.msgs_per_s().unwrap_or(0.0);
    let behind = r.throughput.send_msgs_per_s < SCHEDULE_KEPT * rate
        || r.counts.unsent > 0
        || r.warnings.iter().any(|w| w.starts_with(DELAY_GREW));
    if behind {
        failed.push(Criterion::Schedule);
    }
    if r.params.subscriptions > 0 {
        let allowed_s = spec.target.map_or(BACKLOG_SLACK_S, |t| (t.us as f64 / 1e6).min(BACKLOG_SLACK_S));
        let share = BACKLOG_SHARE + allowed_s / spec.probe_s;
        if backlog_growth(r) as f64 / r.params.duration_s > share * rate {
            failed.push(Criterion::Backlog);
        }
    }
    if r.counts.lost > 0 || r.counts.failed > 0 {
        failed.push(Criterion::Loss);
    }
    if let Some(t) = spec.target {
        let summary = match t.latency {
            Metric::EndToEnd => &r.latency_us.end_to_end,
            Metric::Publish => &r.latency_us.publish,
        };
        if percentile(summary, t.percentile) > t.us {
            failed.push(Criterion::Latency);
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::SeriesPoint;

    fn searched(text: &str) -> Point {
        let yaml = format!("workload:\n  rate: {text}\n  payload: 1KB\nbrokers:\n  - name: loopback\n");
        let s =
            crate::scenario::parse(std::path::Path::new("s.yaml"), &yaml, &Default::default(), &crate::adapter::Rules)
                .unwrap();
        s.points[0].clone()
    }

    /// A broker that sustains up to `capacity` msg/s and, unthrottled,
    /// delivers `unthrottled`.
    fn outcome(p: &Point, capacity: f64, unthrottled: f64) -> PointResult {
        let mut r = super::super::point::failed_result(p, String::new(), "test".into());
        r.status = Status::Ok;
        r.error = None;
        let rate = p.params.rate.msgs_per_s();
        let offered = rate.unwrap_or(unthrottled);
        let served = if rate.is_some() { offered.min(capacity) } else { unthrottled };
        r.throughput.send_msgs_per_s = offered;
        r.throughput.publish_msgs_per_s = offered;
        r.throughput.consume_msgs_per_s = served;
        let grew = ((offered - served) * p.params.duration_s) as u64;
        r.series = vec![
            SeriesPoint { phase: "warmup".into(), backlog: 3, ..Default::default() },
            SeriesPoint { phase: "measure".into(), backlog: 3 + grew, ..Default::default() },
        ];
        r
    }

    fn run(point: &Point, capacity: f64, unthrottled: f64) -> (Vec<PointResult>, Search) {
        let mut search = Search::new(point);
        let mut out = Vec::new();
        while let Some(step) = search.next_step() {
            match step {
                Step::Run(p) => {
                    let mut r = outcome(&p, capacity, unthrottled);
                    search.judge(&mut r);
                    out.push(r);
                }
                Step::Record(r) => out.push(*r),
            }
        }
        (out, search)
    }

    #[test]
    fn bisection_finds_a_backlog_limit_within_tolerance_and_confirms_it() {
        let point = searched("{search: {max: 100MBps}}");
        let (results, _) = run(&point, 7_300.0, 7_000.0);
        let last = results.last().unwrap();
        assert_eq!(last.id, point.id);
        let c = last.capacity.as_ref().unwrap();
        // The backlog allowance (1% of the window plus 50 ms of messages,
        // over 5 s: 2%) admits a rate up to 2% above the capacity.
        assert!(c.msgs_per_s <= 7_300.0 * 1.02 && c.msgs_per_s >= 7_300.0 * 0.98, "{c:?}");
        assert_eq!(c.limited_by, Criterion::Backlog);
        assert!(c.confirmed && c.probes as usize == results.len() - 1 && c.probes <= 12);
        assert_eq!(last.params.duration_s, 10.0);
        let probes: Vec<_> = results[..results.len() - 1].iter().map(|r| r.probe.clone().unwrap()).collect();
        assert!(probes.iter().enumerate().all(|(i, p)| p.index as usize == i && p.search == point.id));
        assert_eq!(results[0].params.rate_label, "max");
        assert!(results[1..results.len() - 1].iter().all(|r| r.params.duration_s == 5.0));
    }

    #[test]
    fn a_confirmation_run_that_fails_is_a_probe_and_the_search_goes_on_below_it() {
        let point = searched("{search: {max: 100MBps}}");
        let mut search = Search::new(&point);
        let mut first_confirmation = true;
        let mut results = Vec::new();
        while let Some(Step::Run(p)) = search.next_step() {
            let confirming = p.id == point.id;
            // The first confirmation meets a broker slower than its probes.
            let capacity = if confirming && first_confirmation { 1.0 } else { 7_300.0 };
            first_confirmation &= !confirming;
            let mut r = outcome(&p, capacity, 7_000.0);
            search.judge(&mut r);
            results.push(r);
        }
        let last = results.last().unwrap();
        let c = last.capacity.as_ref().expect("confirmed in the end");
        let failed_confirmation = results.iter().find(|r| r.params.duration_s == 10.0).unwrap();
        let failed_at = failed_confirmation.params.rate.msgs_per_s().unwrap();
        assert!(c.confirmed && c.msgs_per_s < failed_at, "{c:?}, first confirmed at {failed_at}");
        assert!(c.not_sustained_msgs_per_s.unwrap() <= failed_at);
        assert!(failed_confirmation.id.contains("/probe="), "{}", failed_confirmation.id);
        assert!(!failed_confirmation.probe.as_ref().unwrap().sustained);
        assert_eq!(results.iter().filter(|r| r.id == point.id).count(), 1);
    }

    #[test]
    fn the_upper_bound_sustained_ends_the_search_limited_by_max() {
        let point = searched("{search: {max: 5000msgps}}");
        let (results, _) = run(&point, 1e9, 1e9);
        let c = results.last().unwrap().capacity.clone().unwrap();
        assert_eq!((c.msgs_per_s, c.limited_by, c.probes), (5000.0, Criterion::Max, 2));
    }

    #[test]
    fn a_failed_probe_ends_the_search_with_its_reason() {
        let point = searched("{search: {max: 100MBps}}");
        let mut search = Search::new(&point);
        let Some(Step::Run(p)) = search.next_step() else { panic!() };
        let mut r = outcome(&p, 1000.0, 1000.0);
        search.judge(&mut r);
        let Some(Step::Run(p)) = search.next_step() else { panic!() };
        let mut r = super::super::point::failed_result(&p, "broker died".into(), "x".into());
        search.judge(&mut r);
        assert!(!r.probe.unwrap().sustained);
        let Some(Step::Record(end)) = search.next_step() else { panic!() };
        assert_eq!(end.status, Status::Failed);
        assert!(end.error.unwrap().contains("probe 1 (1000msgps): broker died"));
        assert!(search.next_step().is_none());
    }

    #[test]
    fn nothing_sustained_within_the_budget_is_a_failed_search() {
        let point = searched("{search: {max: 100MBps, probes: 4}}");
        let (results, _) = run(&point, 0.001, 1000.0);
        assert_eq!(results.len(), 5);
        let end = results.last().unwrap();
        assert!(end.error.as_deref().unwrap().contains("no probed rate was sustained in 4 probes"), "{:?}", end.error);
    }

    #[test]
    fn each_criterion_is_judged() {
        let point = searched("{search: {max: 100MBps, p99: 10ms}}");
        let spec = point.params.search.unwrap();
        let mut p = point.clone();
        p.params.rate = RateParam::Fixed { bytes_per_s: 1e6, msgs_per_s: 1000.0 };
        let ok = outcome(&p, 2000.0, 2000.0);
        assert!(criteria(&ok, &spec).is_empty());
        let mut r = ok.clone();
        r.throughput.send_msgs_per_s = 980.0;
        assert_eq!(criteria(&r, &spec), [Criterion::Schedule]);
        let mut r = ok.clone();
        // Per second of the 10 s window: 1% of 1000 msg/s, plus 10 ms of
        // messages per 5 s probe (2 msg/s): 120 allowed.
        r.series[1].backlog = 3 + 121;
        assert_eq!(criteria(&r, &spec), [Criterion::Backlog]);
        r.series[1].backlog = 3 + 120;
        assert!(criteria(&r, &spec).is_empty());
        let mut r = ok.clone();
        r.counts.lost = 1;
        assert_eq!(criteria(&r, &spec), [Criterion::Loss]);
        let mut r = ok.clone();
        r.latency_us.end_to_end.p99 = 10_001;
        assert_eq!(criteria(&r, &spec), [Criterion::Latency]);
        r.latency_us.end_to_end.p99 = 10_000;
        assert!(criteria(&r, &spec).is_empty());
    }
}
