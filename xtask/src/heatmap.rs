//! Heat maps and scatter plots of 2-D densities on plotters: a grid of
//! square panels (rows x columns), each either a density on a regular grid
//! or a cloud of points, drawn into one PNG.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;

use crate::plot::ensure_font;

const FONT: &str = "sans-serif";

/// One panel.
#[derive(Clone, Debug)]
pub enum Panel {
    /// `values` on the `n x n` cell centres of `[lo, hi]^2`, row-major with
    /// `y` as the row (`values[j * n + i]` at `x_i, y_j`); coloured from 0 to
    /// the panel's maximum.
    Heat { title: String, lo: f64, hi: f64, n: usize, values: Vec<f64> },
    /// Points, clipped to `[lo, hi]^2`.
    Scatter { title: String, lo: f64, hi: f64, points: Vec<[f64; 2]> },
}

/// Viridis, sampled at five points and interpolated linearly.
fn colormap(v: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 } * (STOPS.len() - 1) as f64;
    let k = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Draws `rows` of panels, each `panel_px` pixels square, into `path`;
/// shorter rows leave their last cells empty.
pub fn draw(path: &Path, rows: &[Vec<Panel>], panel_px: u32) -> Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    if cols == 0 {
        bail!("nothing to draw for {}", path.display());
    }
    ensure_font()?;
    let size = (panel_px * cols as u32, panel_px * rows.len() as u32);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((rows.len(), cols));
    for (r, row) in rows.iter().enumerate() {
        for (c, panel) in row.iter().enumerate() {
            draw_panel(&areas[r * cols + c], panel).with_context(|| format!("panel ({r}, {c})"))?;
        }
    }
    root.present().map_err(err).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e}")
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_panel(area: &Area<'_>, panel: &Panel) -> Result<()> {
    let (title, lo, hi) = match panel {
        Panel::Heat { title, lo, hi, .. } | Panel::Scatter { title, lo, hi, .. } => (title, *lo, *hi),
    };
    if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
        bail!("empty range [{lo}, {hi}]");
    }
    let mut chart = ChartBuilder::on(area)
        .caption(title.as_str(), (FONT, 15))
        .margin(6)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(err)?;
    match panel {
        Panel::Heat { n, values, .. } => {
            let n = *n;
            if n == 0 || values.len() != n * n {
                bail!("a {n} x {n} heat map needs {} values, got {}", n * n, values.len());
            }
            let top = values.iter().copied().filter(|v| v.is_finite()).fold(0.0f64, f64::max);
            let scale = if top > 0.0 { 1.0 / top } else { 0.0 };
            let h = (hi - lo) / n as f64;
            chart
                .draw_series((0..n * n).map(|k| {
                    let (i, j) = ((k % n) as f64, (k / n) as f64);
                    let (x0, y0) = (lo + i * h, lo + j * h);
                    Rectangle::new([(x0, y0), (x0 + h, y0 + h)], colormap(values[k] * scale).filled())
                }))
                .map_err(err)?;
        }
        Panel::Scatter { points, .. } => {
            let inside = points.iter().filter(|p| (lo..=hi).contains(&p[0]) && (lo..=hi).contains(&p[1]));
            chart
                .draw_series(
                    inside.map(|p| Circle::new((p[0], p[1]), 1, RGBColor(31, 119, 180).mix(0.6).filled())),
                )
                .map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_runs_dark_to_bright_and_tolerates_nan() {
        let lum = |c: RGBColor| c.0 as u32 + c.1 as u32 + c.2 as u32;
        assert!(lum(colormap(0.0)) < lum(colormap(0.5)) && lum(colormap(0.5)) < lum(colormap(1.0)));
        assert_eq!(colormap(f64::NAN), colormap(0.0));
        assert_eq!(colormap(7.0), colormap(1.0));
    }

    #[test]
    fn draws_a_png_and_rejects_bad_sizes() {
        let dir = std::env::temp_dir().join(format!("heatmap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.png");
        let heat =
            Panel::Heat { title: "h".into(), lo: -1.0, hi: 1.0, n: 2, values: vec![0.0, 1.0, 2.0, 3.0] };
        let dots =
            Panel::Scatter { title: "s".into(), lo: -1.0, hi: 1.0, points: vec![[0.0, 0.0], [5.0, 5.0]] };
        if ensure_font().is_ok() {
            draw(&path, &[vec![heat, dots]], 120).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 100);
            let bad = Panel::Heat { title: "b".into(), lo: 0.0, hi: 1.0, n: 3, values: vec![1.0] };
            assert!(draw(&dir.join("b.png"), &[vec![bad]], 100).is_err());
        }
        assert!(draw(&dir.join("e.png"), &[], 100).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
