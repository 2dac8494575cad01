//! Small PNG plotting helpers on plotters: line charts in one or more panels
//! side by side, optionally with log10 axes.
//!
//! Text is drawn with ab_glyph, which needs a font registered at run time:
//! DejaVu Sans from the Debian package `fonts-dejavu-core`.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

/// Where `fonts-dejavu-core` installs DejaVu Sans.
const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const FONT: &str = "sans-serif";

/// Line colours, cycled by series index.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Index into the palette.
    pub color: usize,
    pub dashed: bool,
    /// Also mark every point with a small circle.
    pub markers: bool,
}

impl Series {
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: usize) -> Self {
        Series { label: label.into(), points, color, dashed: false, markers: false }
    }
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
    pub fn markers(mut self) -> Self {
        self.markers = true;
        self
    }
}

/// Which corner the legend goes in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    #[default]
    UpperLeft,
    UpperRight,
    LowerRight,
}

/// One panel: title, axis labels, log axes and its lines.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Same scale on both axes (orbits).
    pub equal_aspect: bool,
    pub legend: Legend,
    pub series: Vec<Series>,
}

/// Registers DejaVu Sans as the `sans-serif` family (once per process).
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT_PATH).map_err(|e| {
                format!(
                    "cannot read the font {FONT_PATH} ({e}); install the Debian package fonts-dejavu-core"
                )
            })?;
            let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            for style in [FontStyle::Normal, FontStyle::Bold] {
                register_font(FONT, style, leaked)
                    .map_err(|_| format!("{FONT_PATH} is not a usable font"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Draws `charts` side by side into a PNG of `panel_size` pixels per panel.
pub fn draw(path: &Path, charts: &[Chart], panel_size: (u32, u32)) -> Result<()> {
    if charts.is_empty() {
        bail!("nothing to plot for {}", path.display());
    }
    ensure_font()?;
    let width = panel_size.0 * charts.len() as u32;
    let root = BitMapBackend::new(path, (width, panel_size.1)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    for (chart, area) in charts.iter().zip(root.split_evenly((1, charts.len()))) {
        draw_chart(&area, chart).with_context(|| format!("panel `{}`", chart.title))?;
    }
    root.present().map_err(plot_err).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e}")
}

/// Maps a point to plot coordinates (log10 where asked); drops points that
/// cannot be shown (non-finite, or non-positive on a log axis).
fn transform(chart: &Chart, (x, y): (f64, f64)) -> Option<(f64, f64)> {
    let tx = if chart.log_x { (x > 0.0).then(|| x.log10())? } else { x };
    let ty = if chart.log_y { (y > 0.0).then(|| y.log10())? } else { y };
    (tx.is_finite() && ty.is_finite()).then_some((tx, ty))
}

/// The padded data range `[lo, hi]` of the values, never empty.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

/// Tick text. On a log axis the powers of ten are labelled; on one spanning
/// less than two decades also the ticks that fall near 2 or 5 times a power
/// of ten, and below one decade every tick (compactly), so labels never
/// crowd into each other.
fn tick_label(log: bool, decades: f64, v: f64) -> String {
    if log {
        let e = v.round();
        if (v - e).abs() < 1e-9 {
            return format!("1e{e}");
        }
        let (k, m) = (v.floor(), 10f64.powf(v - v.floor()));
        if decades < 1.0 {
            format!("{m:.1}e{k}")
        } else if decades < 2.0 && [2.0, 5.0].iter().any(|&d| (m - d).abs() < 0.03 * d) {
            format!("{}e{k}", m.round())
        } else {
            String::new()
        }
    } else if v.abs() < 1e-12 {
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-2 {
        format!("{v:.1e}")
    } else {
        format!("{v:.2}")
    }
}

fn draw_chart(area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>, chart: &Chart) -> Result<()> {
    let lines: Vec<(&Series, Vec<(f64, f64)>)> = chart
        .series
        .iter()
        .map(|s| (s, s.points.iter().filter_map(|p| transform(chart, *p)).collect()))
        .collect();
    let (mut x0, mut x1) = padded(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (mut y0, mut y1) = padded(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
    if chart.equal_aspect {
        let half = 0.5 * (x1 - x0).max(y1 - y0);
        let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
        (x0, x1, y0, y1) = (cx - half, cx + half, cy - half, cy + half);
    }
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_err)?;
    let (lx, ly, dx, dy) = (chart.log_x, chart.log_y, x1 - x0, y1 - y0);
    let fx = move |v: &f64| tick_label(lx, dx, *v);
    let fy = move |v: &f64| tick_label(ly, dy, *v);
    ctx.configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_err)?;
    for (s, points) in lines {
        let color = PALETTE[s.color % PALETTE.len()];
        let style = color.stroke_width(2);
        let anno = if s.dashed {
            ctx.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style)).map_err(plot_err)?
        } else {
            ctx.draw_series(LineSeries::new(points.clone(), style)).map_err(plot_err)?
        };
        if !s.label.is_empty() {
            anno.label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        if s.markers {
            ctx.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(plot_err)?;
        }
    }
    if chart.series.iter().any(|s| !s.label.is_empty()) {
        ctx.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(match chart.legend {
                Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
                Legend::UpperRight => SeriesLabelPosition::UpperRight,
                Legend::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .draw()
            .map_err(plot_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tick_label;

    #[test]
    fn log_tick_labels_stay_sparse() {
        let l = |decades: f64, x: f64| tick_label(true, decades, x.log10());
        assert_eq!(l(5.0, 1e-3), "1e-3");
        assert_eq!(l(5.0, 2e-3), "");
        // 1.5 decades: powers of ten and 2x / 5x, not plotters' 10^0.2 steps.
        assert_eq!(l(1.5, 2e-3), "2e-3");
        assert_eq!(l(1.5, 5e-2), "5e-2");
        assert_eq!(l(1.5, 10f64.powf(-2.8)), "");
        // Below a decade every tick is labelled, compactly.
        assert_eq!(l(0.5, 10f64.powf(-2.8)), "1.6e-3");
        assert_eq!(tick_label(false, 1.0, 0.5), "0.50");
    }
}
