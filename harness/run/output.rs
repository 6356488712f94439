//! Outputs of a run, all fed from one stream of events: the progress bar,
//! the one-line summaries, and the results files.

use super::point::Progress;
use crate::results::{PointResult, ResultsFile, ResultsWriter, Status};
use crate::scenario::Point;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

pub enum Event<'a> {
    RunStarted { points: usize, dir: &'a Path },
    PointStarted { index: usize, total: usize, point: &'a Point },
    Progress { point: &'a Point, progress: &'a Progress },
    PointFinished { index: usize, total: usize, result: &'a PointResult, results: &'a ResultsFile },
    RunFinished { results: &'a ResultsFile, dir: &'a Path },
}

pub trait Output: Send {
    fn on(&mut self, event: &Event) -> anyhow::Result<()>;
}

/// Rewrites results.json and results.csv after every point.
impl Output for ResultsWriter {
    fn on(&mut self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::PointFinished { results, .. } | Event::RunFinished { results, .. } => self.write(results),
            _ => Ok(()),
        }
    }
}

/// A progress bar per point (hidden when stderr is not a terminal).
#[derive(Default)]
pub struct ProgressBars {
    bar: Option<ProgressBar>,
}

impl Output for ProgressBars {
    fn on(&mut self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::PointStarted { index, total, point } => {
                let bar = ProgressBar::new(1000);
                bar.set_style(
                    ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(format!("[{}/{}] {}", index + 1, total, point.id));
                self.bar = Some(bar);
            }
            Event::Progress { progress, .. } => {
                if let Some(bar) = &self.bar {
                    let frac = progress.elapsed.as_secs_f64() / progress.total.as_secs_f64().max(1e-9);
                    bar.set_position((frac.min(1.0) * 1000.0) as u64);
                    bar.set_message(format!(
                        "{:<7} sent {:>10.0} msg/s  recv {:>10.0} msg/s  p99 {}",
                        progress.phase,
                        progress.sent_per_s,
                        progress.received_per_s,
                        fmt_us(progress.e2e_p99_us)
                    ));
                }
            }
            Event::PointFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Formats µs for people: `850µs`, `12.3ms`, `1.20s`.
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// One plain line per finished point, on stderr.
pub struct Summary;

impl Output for Summary {
    fn on(&mut self, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::RunStarted { points, dir } => {
                eprintln!("mqbench: {points} points; results in {}", dir.display());
            }
            Event::PointFinished { index, total, result, .. } => {
                let r = result;
                let head = format!("[{}/{}] {}", index + 1, total, r.id);
                match r.status {
                    Status::Ok => eprintln!(
                        "{head}: {:.0} msg/s in, {:.0} msg/s out ({:.2} MB/s), e2e p50 {} p99 {}, sent {} lost {} dup {}{}",
                        r.throughput.publish_msgs_per_s,
                        r.throughput.consume_msgs_per_s,
                        r.throughput.consume_bytes_per_s / 1e6,
                        fmt_us(r.latency_us.end_to_end.p50),
                        fmt_us(r.latency_us.end_to_end.p99),
                        r.counts.sent,
                        r.counts.lost,
                        r.counts.duplicated,
                        if r.warnings.is_empty() { String::new() } else { format!(" [{}]", r.warnings.join("; ")) }
                    ),
                    Status::Failed => {
                        eprintln!(
                            "{head}: FAILED: {}",
                            crate::system::secrets::scrub(r.error.as_deref().unwrap_or("unknown error"))
                        )
                    }
                }
            }
            Event::RunFinished { results, dir } => {
                let failed = results.points.iter().filter(|p| p.status == Status::Failed).count();
                eprintln!(
                    "mqbench: {} points, {} failed; results in {}",
                    results.points.len(),
                    failed,
                    dir.join("results.json").display()
                );
            }
            _ => {}
        }
        Ok(())
    }
}
