//! Searched rates (`rate: {search: ...}`) against brokers of known
//! capacity: the loopback with a service-rate limit, whose answer follows
//! from queueing theory (worked out here, not taken from the code), and a
//! Redis that the run starts (`provision: local`).

mod common;

use mqbench::results::{Criterion, PointResult, ResultsFile, Status};

/// The searched point's record (its confirmation run) and its probes.
fn search_of(r: &ResultsFile) -> (&PointResult, Vec<&PointResult>) {
    let confirmed: Vec<_> = r.points.iter().filter(|p| p.probe.is_none()).collect();
    assert_eq!(confirmed.len(), 1, "{:?}", r.points.iter().map(|p| &p.id).collect::<Vec<_>>());
    let point = confirmed[0];
    let probes: Vec<_> = r.points.iter().filter(|p| p.probe.is_some()).collect();
    for (k, p) in probes.iter().enumerate() {
        let probe = p.probe.as_ref().unwrap();
        assert_eq!((probe.index as usize, probe.search.as_str()), (k, point.id.as_str()));
        assert_eq!(p.id, format!("{}/probe={k}", point.id));
    }
    (point, probes)
}

fn loopback(options: &str, search: &str, warmup: &str) -> String {
    format!(
        "workload:\n  payload: 1KB\n  rate: {{search: {{{search}}}}}\n  warmup: {warmup}\n  duration: 4s\n  drain: 3s\nbrokers:\n  - name: loopback\n    options: {{{options}}}\n"
    )
}

/// Fixed service at 2,000 msg/s: a paced rate below it waits for nothing,
/// one above it builds a backlog. The search finds 2,000 within 5% and
/// names the backlog as what limits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_service_rate_is_found_within_five_percent_limited_by_the_backlog() {
    let r = common::run_scenario(
        "capacity.yaml",
        &loopback("service_rate: 2000msgps, queue: 4000", "max: 10MBps, probe: 3s, probes: 12", "1s"),
    )
    .await;
    let (point, probes) = search_of(&r);
    assert_eq!(point.status, Status::Ok, "{:?}", point.error);
    let c = point.capacity.as_ref().expect("a capacity");
    assert!((c.msgs_per_s - 2000.0).abs() <= 100.0, "{c:?}");
    assert!((c.bytes_per_s - c.msgs_per_s * 1000.0).abs() < 1e-6);
    assert_eq!(c.limited_by, Criterion::Backlog, "{c:?}");
    assert!(c.confirmed, "{:?}", point.warnings);
    assert_eq!(c.probes as usize, probes.len());
    assert!(probes.len() <= 12);
    // The confirmation run is the full window at the rate found.
    assert_eq!(point.params.duration_s, 4.0);
    assert_eq!(point.params.rate.msgs_per_s(), Some(c.msgs_per_s));
    // Every probe more than the backlog allowance (1% + 50 ms per 3 s
    // window: 2.7%) above the service rate failed on its backlog: it grew
    // by 3% of the rate or more each second.
    for p in &probes[1..] {
        let rate = p.params.rate.msgs_per_s().unwrap();
        if rate > 1.03 * 2000.0 {
            let probe = p.probe.as_ref().unwrap();
            assert!(!probe.sustained && probe.failed.contains(&Criterion::Backlog), "{}: {probe:?}", p.id);
        }
    }

    // The report draws the probes with the knee and tabulates the answer.
    let inputs = vec![mqbench::report::Input { path: "results.json".into(), results: r.clone() }];
    let report = mqbench::report::build(&inputs, mqbench::report::PublishedMode::Never);
    assert_eq!(report.capacity.len(), 1);
    let chart = &report.capacity[0];
    let drawn: usize =
        chart.figure.panels[0].lines.iter().filter(|l| !l.label.starts_with("knee")).map(|l| l.points.len()).sum();
    assert_eq!(drawn, probes.len(), "every probe is drawn");
    let knee = chart.figure.panels[0].lines.iter().find(|l| l.label.starts_with("knee")).expect("the knee");
    assert!(knee.points.iter().all(|(x, _)| *x == c.msgs_per_s));
    assert!(chart.svg.as_ref().is_ok_and(|svg| svg.contains("knee")));
    let table = report.capacity_table.as_ref().expect("a capacity table");
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.rows[0][0], "loopback");
    assert_eq!(table.rows[0][3], format!("{:.0}", c.msgs_per_s));
    assert_eq!(table.rows[0][5], "backlog");
    // Probes are not points of the report's own tables.
    assert!(report.dataset.points.iter().all(|p| p.point.probe.is_none()));
}

/// Exponential service of mean 1/μ, μ = 500 msg/s, offered an evenly
/// paced rate λ: a D/M/1 queue. Its time in system exceeds t with
/// probability exp(-μ(1-σ)t), σ the root in (0, 1) of σ = exp(-μ(1-σ)/λ)
/// (Kleinrock, Queueing Systems I, §6.4). A p99 target L is then met while
/// μ(1-σ) >= ln(100)/L: with x = ln(100)/L, σ = 1 - x/μ, and the largest λ
/// is -x / ln(1 - x/μ). For L = 40 ms: 440 msg/s, 12% below μ. The scale
/// is chosen so that the harness's own few milliseconds of tail on a busy
/// host are small beside the target, while the queue settles within the
/// 2 s warm-up (its relaxation time near the answer is about
/// 1 / (μ(1 - √ρ)²), 0.5 s) and each probe holds over 4,000 samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_target_tighter_than_the_queueing_allows_lowers_the_answer_as_d_m_1_predicts() {
    let (mu, target_s) = (500.0f64, 0.040f64);
    let x = 100f64.ln() / target_s;
    let expected = -x / (1.0 - x / mu).ln();
    // The closed form solves the fixed point it came from.
    let sigma = 1.0 - x / mu;
    assert!((sigma - (-(mu * (1.0 - sigma)) / expected).exp()).abs() < 1e-9);
    assert!((expected - 440.0).abs() < 1.0, "{expected}");

    let r = common::run_scenario(
        "capacity.yaml",
        &loopback(
            "service_rate: 500msgps, service_time: exponential, queue: 1000",
            "max: 1MBps, p99: 40ms, probe: 10s, probes: 16",
            "2s",
        ),
    )
    .await;
    let (point, probes) = search_of(&r);
    assert_eq!(point.status, Status::Ok, "{:?}", point.error);
    let c = point.capacity.as_ref().expect("a capacity");
    assert!((c.msgs_per_s - expected).abs() <= 0.05 * expected, "{c:?}, expected {expected:.0}");
    assert_eq!(c.limited_by, Criterion::Latency, "{c:?}");
    assert!(probes.len() <= 16);
}

/// Redis started by the run: the search stays within its budget and ends
/// on a confirmation run that holds the target. The target is loose
/// (p99 250 ms) because the harness's own tail on a busy 2-core host
/// reaches tens of milliseconds at p99, and this checks the search, not
/// Redis (figures for a 50 ms target: `scenarios/capacity.yaml`).
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_is_searched_within_the_probe_budget_and_its_confirmation_holds_the_target() {
    let budget = 12;
    let r = common::run_scenario(
        "capacity-redis.yaml",
        &format!(
            "workload:\n  payload: 1KB\n  rate: {{search: {{max: 200MBps, p99: 250ms, probe: 2s, probes: {budget}, tolerance: 0.15}}}}\n  warmup: 500ms\n  duration: 3s\n  drain: 3s\nbrokers:\n  - name: redis\n"
        ),
    )
    .await;
    let (point, probes) = search_of(&r);
    assert!(probes.iter().all(|p| p.status == Status::Ok), "{:?}", probes.iter().map(|p| &p.error).collect::<Vec<_>>());
    assert!(!probes.is_empty() && probes.len() <= budget, "{} probes", probes.len());
    assert_eq!(point.status, Status::Ok, "{:?}", point.error);
    let c = point.capacity.as_ref().expect("a capacity");
    assert!(c.msgs_per_s > 0.0);
    assert!(c.confirmed, "{:?}", point.warnings);
    assert!(point.latency_us.end_to_end.p99 <= 250_000, "{:?}", point.latency_us.end_to_end);
    assert_eq!(point.counts.lost, 0);
}
