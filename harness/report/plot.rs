//! One drawing routine for every chart: a panel of lines on linear or
//! logarithmic axes. Charts describe *what* to draw (`Panel`); this module
//! alone knows plotters, so every chart looks the same (palette, fonts,
//! line styles) and renders the same to SVG and PNG.
//!
//! Logarithmic axes are drawn by transforming values to log10 and labelling
//! the whole decades, rather than with plotters' log coordinates: one
//! coordinate type keeps this routine non-generic over scales, and decade
//! ticks read better than plotters' automatic ones on a log axis.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Okabe & Ito's palette (2008), ordered so the first colours are the most
/// distinct on white; yellow is last because it is faint on paper. It stays
/// distinguishable under the common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Marker shapes, cycled with a period prime to the palette's, so that
/// series `i` and `j` differ in colour or shape (or both) for the first 40
/// series, and lines stay apart in greyscale print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    InvertedTriangle,
}

pub const MARKERS: [Marker; 5] =
    [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::InvertedTriangle];

pub fn marker(i: usize) -> Marker {
    MARKERS[i % MARKERS.len()]
}

/// How a line is drawn: measured lines are solid with filled markers (shape
/// and colour from the line's style index); published figures are dashed
/// with cross markers, so the two never look alike even in greyscale print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Measured,
    Published,
    /// Solid without markers (dense data such as percentile curves).
    Curve,
    /// Dashed without markers.
    DashedCurve,
}

#[derive(Clone, Debug)]
pub struct Line {
    pub label: String,
    /// Style index: colour `colour(i)` and marker `marker(i)`; give each
    /// line of a panel its own.
    pub colour: usize,
    pub kind: LineKind,
    pub points: Vec<(f64, f64)>,
}

/// Formats an axis value (already back-transformed from log10).
pub type Fmt = fn(f64) -> String;

#[derive(Clone, Debug)]
pub struct Axis {
    /// Name and unit, e.g. "payload size (bytes)".
    pub label: String,
    pub log: bool,
    pub fmt: Fmt,
    /// Fixed range (in data units); otherwise from the data.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    pub fn linear(label: &str, fmt: Fmt) -> Axis {
        Axis { label: label.into(), log: false, fmt, range: None }
    }
    pub fn log(label: &str, fmt: Fmt) -> Axis {
        Axis { label: label.into(), log: true, fmt, range: None }
    }
    pub fn with_range(mut self, lo: f64, hi: f64) -> Axis {
        self.range = Some((lo, hi));
        self
    }

    fn to_axis(&self, v: f64) -> Option<f64> {
        if self.log {
            (v > 0.0 && v.is_finite()).then(|| v.log10())
        } else {
            v.is_finite().then_some(v)
        }
    }

    /// The drawn range in axis units: whole decades on a log axis.
    fn span(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        let (mut lo, mut hi) = match self.range {
            Some((a, b)) => (self.to_axis(a).unwrap_or(0.0), self.to_axis(b).unwrap_or(1.0)),
            None => values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v))),
        };
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if self.log {
            lo = lo.floor();
            hi = hi.ceil();
            if hi - lo < 1.0 {
                hi = lo + 1.0;
            }
        } else if self.range.is_none() {
            let pad = ((hi - lo) * 0.05).max(if hi.abs() > 0.0 { hi.abs() * 0.05 } else { 1.0 });
            lo = if lo >= 0.0 { 0.0 } else { lo - pad };
            hi += pad;
        }
        (lo, hi)
    }
}

#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
}

/// Legend geometry: entries below the plot, in as many columns of
/// `LEGEND_COLUMN` pixels as the panel is wide, so that no entry covers data.
const LEGEND_ROW: u32 = 20;
const LEGEND_PAD: u32 = 8;
/// Sample line and gap before an entry's text.
const LEGEND_SAMPLE: u32 = 30;

impl Panel {
    /// Height in pixels the legend takes below the plot of a panel `width`
    /// pixels wide (0 without lines).
    pub fn legend_height(&self, width: u32) -> u32 {
        let n = self.lines.iter().filter(|l| !l.points.is_empty()).count() as u32;
        if n == 0 {
            return 0;
        }
        n.div_ceil(self.legend_columns(width)) * LEGEND_ROW + 2 * LEGEND_PAD
    }

    /// Width of one legend column: the longest label (at about 8 px a
    /// character in the 14 px font) after the sample.
    fn legend_column(&self) -> u32 {
        let longest = self.lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0) as u32;
        LEGEND_SAMPLE + longest * 8 + 16
    }

    fn legend_columns(&self, width: u32) -> u32 {
        (width.saturating_sub(2 * LEGEND_PAD) / self.legend_column()).max(1)
    }
}

/// Converts any plotters error to anyhow (their error types are generic
/// over the backend).
pub fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e}")
}

pub const FONT: &str = "sans-serif";

/// Draws one panel filling `area`: the plot, and below it its legend in
/// the bottom `legend_h` pixels (the same for every panel of a figure, so
/// that plots side by side have the same size).
pub fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    legend_h: u32,
) -> anyhow::Result<()> {
    let (_, h) = area.dim_in_pixel();
    let legend_h = legend_h.min(h / 2);
    let (plot, legend) = area.split_vertically(h - legend_h);
    draw_plot(&plot, panel)?;
    draw_legend(&legend, panel)
}

/// The polygon of marker `m` around (0, 0), `None` for a circle.
fn marker_polygon(m: Marker) -> Option<Vec<(i32, i32)>> {
    let s = MARKER_SIZE;
    match m {
        Marker::Circle => None,
        Marker::Square => Some(vec![(-s + 1, -s + 1), (s - 1, -s + 1), (s - 1, s - 1), (-s + 1, s - 1)]),
        Marker::Triangle => Some(vec![(0, -s - 1), (s + 1, s), (-s - 1, s)]),
        Marker::InvertedTriangle => Some(vec![(0, s + 1), (s + 1, -s), (-s - 1, -s)]),
        Marker::Diamond => Some(vec![(0, -s - 1), (s + 1, 0), (0, s + 1), (-s - 1, 0)]),
    }
}

const MARKER_SIZE: i32 = 4;

fn draw_plot<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> anyhow::Result<()> {
    let lines: Vec<(&Line, Vec<(f64, f64)>)> = panel
        .lines
        .iter()
        .map(|l| {
            let pts = l
                .points
                .iter()
                .filter_map(|&(x, y)| Some((panel.x.to_axis(x)?, panel.y.to_axis(y)?)))
                .collect::<Vec<_>>();
            (l, pts)
        })
        .collect();
    let (x0, x1) = panel.x.span(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (y0, y1) = panel.y.span(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 20))
        .margin(12)
        // Room for the last tick label of the x axis.
        .margin_right(32)
        .x_label_area_size(48)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (xa, ya) = (panel.x.clone(), panel.y.clone());
    let fx = move |v: &f64| tick_label(&xa, *v);
    let fy = move |v: &f64| tick_label(&ya, *v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x.label.as_str())
        .y_desc(panel.y.label.as_str())
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(200, 200, 200));
    if panel.x.log {
        mesh.x_labels((x1 - x0) as usize + 1);
    }
    if panel.y.log {
        mesh.y_labels((y1 - y0) as usize + 1);
    }
    mesh.draw().map_err(err)?;

    for (line, pts) in &lines {
        if pts.is_empty() {
            continue;
        }
        let c = colour(line.colour);
        let solid = ShapeStyle { color: c.to_rgba(), filled: false, stroke_width: 2 };
        match line.kind {
            LineKind::Measured | LineKind::Curve => {
                chart.draw_series(LineSeries::new(pts.clone(), solid)).map_err(err)?;
            }
            LineKind::Published | LineKind::DashedCurve => {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, solid)).map_err(err)?;
            }
        }
        match line.kind {
            LineKind::Measured => match marker_polygon(marker(line.colour)) {
                None => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, MARKER_SIZE, c.filled()))).map_err(err)?;
                }
                Some(shape) => {
                    chart
                        .draw_series(pts.iter().map(|&p| EmptyElement::at(p) + Polygon::new(shape.clone(), c.filled())))
                        .map_err(err)?;
                }
            },
            LineKind::Published => {
                chart
                    .draw_series(pts.iter().map(|&p| Cross::new(p, 5, ShapeStyle::from(c).stroke_width(2))))
                    .map_err(err)?;
            }
            LineKind::Curve | LineKind::DashedCurve => {}
        }
    }
    if lines.iter().all(|(_, p)| p.is_empty()) {
        area.draw(&Text::new("no data for this chart", (40, 60), (FONT, 16))).map_err(err)?;
    }
    Ok(())
}

/// The legend, below the plot: a sample of each line (its stroke and
/// marker) and its label, in columns.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> anyhow::Result<()> {
    let (w, _) = area.dim_in_pixel();
    let cols = panel.legend_columns(w) as usize;
    let col_w = panel.legend_column() as i32;
    let shown = panel.lines.iter().filter(|l| !l.points.is_empty());
    for (i, line) in shown.enumerate() {
        let x = LEGEND_PAD as i32 + (i % cols) as i32 * col_w;
        let y = LEGEND_PAD as i32 + (i / cols) as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        let c = colour(line.colour);
        let solid = ShapeStyle { color: c.to_rgba(), filled: false, stroke_width: 2 };
        match line.kind {
            LineKind::Measured | LineKind::Curve => {
                area.draw(&PathElement::new(vec![(x, y), (x + 24, y)], solid)).map_err(err)?;
            }
            LineKind::Published | LineKind::DashedCurve => {
                area.draw(&PathElement::new(vec![(x, y), (x + 8, y)], solid)).map_err(err)?;
                area.draw(&PathElement::new(vec![(x + 14, y), (x + 22, y)], solid)).map_err(err)?;
            }
        }
        let mid = (x + 12, y);
        match line.kind {
            LineKind::Measured => match marker_polygon(marker(line.colour)) {
                None => area.draw(&Circle::new(mid, MARKER_SIZE, c.filled())).map_err(err)?,
                Some(shape) => area.draw(&(EmptyElement::at(mid) + Polygon::new(shape, c.filled()))).map_err(err)?,
            },
            LineKind::Published => area.draw(&Cross::new(mid, 5, ShapeStyle::from(c).stroke_width(2))).map_err(err)?,
            LineKind::Curve | LineKind::DashedCurve => {}
        }
        let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(line.label.clone(), (x + LEGEND_SAMPLE as i32, y), style)).map_err(err)?;
    }
    Ok(())
}

fn tick_label(axis: &Axis, v: f64) -> String {
    if axis.log {
        // Only whole decades get a label on a log axis.
        if (v - v.round()).abs() > 1e-6 {
            return String::new();
        }
        (axis.fmt)(10f64.powf(v.round()))
    } else {
        (axis.fmt)(v)
    }
}

/// Bytes with decimal units, as the papers use (1 KB = 1000 B).
pub fn fmt_bytes(v: f64) -> String {
    si(v, &["B", "KB", "MB", "GB", "TB"])
}

/// A count with k/M/G suffixes.
pub fn fmt_count(v: f64) -> String {
    si(v, &["", "k", "M", "G", "T"])
}

pub fn fmt_plain(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').to_string()
    }
}

fn si(v: f64, units: &[&str]) -> String {
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    let n = fmt_plain(x);
    if units[i].is_empty() {
        n
    } else if units[0].is_empty() {
        format!("{n}{}", units[i])
    } else {
        format!("{n} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_decimal() {
        assert_eq!(fmt_bytes(100_000.0), "100 KB");
        assert_eq!(fmt_bytes(10.0), "10 B");
        assert_eq!(fmt_count(255_285.0), "255k");
        assert_eq!(fmt_plain(0.001), "0.001");
    }

    #[test]
    fn log_axis_spans_whole_decades() {
        let a = Axis::log("x", fmt_plain);
        assert_eq!(a.span([1.0f64, 4.9].into_iter()), (1.0, 5.0));
        assert_eq!(tick_label(&a, 2.0), "100");
        assert_eq!(tick_label(&a, 2.5), "");
    }
}
