//! A figure: one or more panels in a grid, rendered to SVG (inline in
//! report.html) or PNG (linked from report.md). Every chart module builds a
//! `Figure` from data; only this module and `plot` touch plotters.

use super::plot::{draw_panel, err, Panel};
use plotters::prelude::*;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem: `throughput`, `latency`, `point-3-percentiles`.
    pub name: String,
    /// Heading and alt text.
    pub title: String,
    /// One sentence on how to read it.
    pub caption: String,
    /// Panels laid out in `cols` columns.
    pub panels: Vec<Panel>,
    pub cols: usize,
    /// Size in pixels of one panel's plot; its legend is added below.
    pub panel_size: (u32, u32),
}

impl Figure {
    /// Height of the tallest legend among the panels.
    fn legend_height(&self) -> u32 {
        self.panels.iter().map(|p| p.legend_height(self.panel_size.0)).max().unwrap_or(0)
    }

    fn size(&self) -> (u32, u32) {
        let cols = self.cols.clamp(1, self.panels.len().max(1));
        let rows = self.panels.len().div_ceil(cols).max(1);
        (self.panel_size.0 * cols as u32, (self.panel_size.1 + self.legend_height()) * rows as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(err)?;
        let cols = self.cols.clamp(1, self.panels.len().max(1));
        let rows = self.panels.len().div_ceil(cols).max(1);
        let areas = root.split_evenly((rows, cols));
        let legend_h = self.legend_height();
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            draw_panel(area, panel, legend_h)?;
        }
        root.present().map_err(err)?;
        Ok(())
    }

    /// The figure as an SVG document.
    pub fn svg(&self) -> anyhow::Result<String> {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size()).into_drawing_area();
            self.draw(root)?;
        }
        Ok(out)
    }

    /// Writes the figure as a PNG file. Text needs a system font
    /// (fontconfig and, e.g., Debian's fonts-dejavu-core).
    pub fn png(&self, path: &Path) -> anyhow::Result<()> {
        let root = BitMapBackend::new(path, self.size()).into_drawing_area();
        self.draw(root)
    }
}
