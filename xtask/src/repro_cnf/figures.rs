//! The figures of `reproduce cnf`, drawn from each run's `figures.json`
//! (heat maps and samples) and the scale check's timings.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::{num, Output, RunResult, TRACES};
use crate::heatmap::{self, Panel};
use crate::plot::{self, Chart, Legend, Series};
use crate::training_run::read_json;

fn frames(r: &RunResult) -> Option<Value> {
    read_json(&Path::new(&r.run_dir).join("figures.json"))
}

fn heat(title: String, fig: &Value, key: &str, grid: &Value) -> Panel {
    let g = |k: &str| grid.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let values = fig
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    Panel::Heat { title, lo: g("lo"), hi: g("hi"), n: g("n") as usize, values }
}

fn scatter(title: String, fig: &Value, key: &str) -> Panel {
    let points = fig
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some([p.get(0)?.as_f64()?, p.get(1)?.as_f64()?])).collect())
        .unwrap_or_default();
    Panel::Scatter { title, lo: -4.0, hi: 4.0, points }
}

pub(super) fn paper_figure(out: &Output, path: &Path) -> Result<()> {
    let mut rows = Vec::new();
    let paper: Vec<&RunResult> = out.runs.iter().filter(|r| r.spec.group == "paper").collect();
    let mut keys: Vec<(&str, &str)> = paper.iter().map(|r| (r.spec.task, r.spec.target)).collect();
    keys.dedup();
    for (task, target) in keys {
        let group: Vec<&&RunResult> =
            paper.iter().filter(|r| (r.spec.task, r.spec.target) == (task, target)).collect();
        let mut row = Vec::new();
        for (i, r) in group.iter().enumerate() {
            let Some(fig) = frames(r) else { continue };
            let grid = fig.get("grid").cloned().unwrap_or(Value::Null);
            if i == 0 {
                row.push(heat(format!("{target} ({task})"), &fig, "target_density", &grid));
            }
            row.push(heat(r.spec.label(), &fig, "model_density", &grid));
        }
        if let Some(fig) = group.iter().rfind(|r| r.spec.model == "cnf").and_then(|r| frames(r)) {
            row.push(scatter("widest CNF: samples".into(), &fig, "model_samples"));
        }
        rows.push(row);
    }
    heatmap::draw(path, &rows, 220)
}

pub(super) fn flow_figure(out: &Output, path: &Path) -> Result<()> {
    let cnfs: Vec<&RunResult> =
        out.runs.iter().filter(|r| r.spec.group == "paper" && r.spec.model == "cnf").collect();
    let mut keys: Vec<(&str, &str)> = cnfs.iter().map(|r| (r.spec.task, r.spec.target)).collect();
    keys.dedup();
    let mut rows = Vec::new();
    for key in keys {
        // The widest CNF of this task (the runs are ordered by width).
        let Some(r) = cnfs.iter().rfind(|r| (r.spec.task, r.spec.target) == key) else {
            continue;
        };
        let Some(fig) = frames(r) else { continue };
        let flow = fig.get("flow").and_then(Value::as_array).cloned().unwrap_or_default();
        let (mut dens, mut pts) = (Vec::new(), Vec::new());
        for (k, f) in flow.iter().enumerate() {
            let t = f.get("t").and_then(Value::as_f64).unwrap_or(0.0);
            let grid = f.get("grid").cloned().unwrap_or(Value::Null);
            let title =
                if k == 0 { format!("{}: p at t=0", r.spec.target) } else { format!("p at t={t:.2}") };
            dens.push(heat(title, f, "density", &grid));
            pts.push(scatter(format!("samples at t={t:.2}"), f, "samples"));
        }
        rows.push(dens);
        rows.push(pts);
    }
    heatmap::draw(path, &rows, 200)
}

pub(super) fn toy_figure(out: &Output, path: &Path) -> Result<()> {
    let mut rows = Vec::new();
    for r in out.runs.iter().filter(|r| r.spec.group == "toy" && r.spec.model == "cnf") {
        let Some(fig) = frames(r) else { continue };
        let grid = fig.get("grid").cloned().unwrap_or(Value::Null);
        let mut row = vec![
            heat(format!("{}: data", r.spec.target), &fig, "target_density", &grid),
            heat(r.spec.label(), &fig, "model_density", &grid),
            scatter(format!("{}: samples", r.spec.label()), &fig, "model_samples"),
        ];
        let planar = out
            .runs
            .iter()
            .find(|p| p.spec.group == "toy" && p.spec.model == "planar" && p.spec.target == r.spec.target);
        if let Some((p, pf)) = planar.and_then(|p| Some((p, frames(p)?))) {
            row.push(heat(p.spec.label(), &pf, "model_density", &grid));
        }
        rows.push(row);
    }
    heatmap::draw(path, &rows, 200)
}

pub(super) fn scale_figure(out: &Output, path: &Path) -> Result<()> {
    let series = TRACES
        .iter()
        .enumerate()
        .map(|(i, tr)| {
            let pts = out
                .runs
                .iter()
                .filter(|r| r.spec.group == "scale" && r.spec.trace == *tr)
                .filter_map(|r| Some((r.spec.dim as f64, num(r, "sec_per_iter")?)))
                .collect();
            Series::line(*tr, pts, i).markers()
        })
        .collect();
    let chart = Chart {
        title: "CNF training iteration: exact trace vs Hutchinson".into(),
        x_label: "dimension D".into(),
        y_label: "seconds per iteration".into(),
        log_x: true,
        log_y: true,
        legend: Legend::UpperLeft,
        series,
        ..Default::default()
    };
    plot::draw(path, &[chart], (640, 460))
}
