//! `gradient-accuracy`: the adjoint, ACA and MALI gradients against a tight
//! reference over a sweep of tolerances.

use super::*;

#[derive(Serialize)]
struct AccuracyRow {
    problem: &'static str,
    method: &'static str,
    tol: f64,
    rel_err: f64,
    fwd_nfe: usize,
    fwd_accepted: usize,
    fwd_rejected: usize,
    bwd_nfe: usize,
    bwd_nvjp: usize,
    bwd_steps: usize,
    /// Best wall time of forward + backward, seconds.
    seconds: f64,
}

#[derive(Serialize)]
struct Reference {
    problem: &'static str,
    description: String,
    gradient_norm: f64,
    /// Relative difference between the reference and the cross-check.
    cross_check_rel_diff: f64,
    cross_check: String,
}

#[derive(Serialize)]
struct AccuracyReport {
    setup: Vec<String>,
    references: Vec<Reference>,
    rows: Vec<AccuracyRow>,
}

/// One problem of the accuracy sweep.
struct Problem<'a, F> {
    name: &'static str,
    f: F,
    y0: State,
    ts: Vec<f64>,
    loss: Loss<'a>,
}

pub(super) fn gradient_accuracy(quick: bool, out_dir: &Path) -> Result<String> {
    let tols: Vec<f64> =
        if quick { vec![1e-3, 1e-5, 1e-7] } else { (3..=8).map(|k| 10f64.powi(-k)).collect() };
    let repeats = if quick { 2 } else { 5 };

    // (a) The ACA paper's three-body system at masses (1, 1.05, 0.95),
    // fitted to 101 positions of the true system (1.1, 1.1, 0.9) on [0, 1].
    let y0 = ThreeBody::aca_paper_initial_state();
    let ts = linspace(0.0, 1.0, 101);
    let targets = tight_positions(&ThreeBody::aca_paper(Array1::from(vec![1.1, 1.1, 0.9])), &y0, &ts)?;
    let tb_loss = |ys: &[State]| position_mse(ys, &targets);
    let tb = Problem {
        name: "three-body",
        f: ThreeBody::aca_paper(Array1::from(vec![1.0, 1.05, 0.95])),
        y0,
        ts,
        loss: &tb_loss,
    };
    // (b) A 2-16-2 tanh MLP; L = sum over t = 0.5, 1, .., 5 of |y(t)|^2.
    let mlp_loss = |ys: &[State]| {
        let value = ys[1..].iter().map(|y| y.dot(y)).sum();
        let mut grads: Vec<State> = ys.iter().map(|y| 2.0 * y).collect();
        grads[0].fill(0.0);
        (value, grads)
    };
    let mlp = Problem {
        name: "mlp-2-16",
        f: Mlp::seeded(2, 16, 7),
        y0: Array1::from(vec![1.0, -0.5]),
        ts: linspace(0.0, 5.0, 11),
        loss: &mlp_loss,
    };

    let mut report = AccuracyReport {
        setup: vec![
            "three-body: ACA paper system (3-D, K1/K2 scaling, its initial state), masses (1, 1.05, 0.95); \
             loss = MSE of the positions against the true system's (masses 1.1, 1.1, 0.9) at 101 times on [0, 1]; \
             gradient w.r.t. the 18 initial-state components and the 3 masses"
                .into(),
            "mlp-2-16: Mlp::seeded(2, 16, 7), y0 = (1, -0.5), loss = sum of |y(t)|^2 over t = 0.5, 1, .., 5; \
             gradient w.r.t. y0 and all 82 weights"
                .into(),
            "forward: dopri5 with rtol = atol = tol (adjoint and ACA); MALI: adaptive ALF at rtol = atol = tol; \
             adjoint backward: dopri5 at rtol = atol = tol (no seminorm)"
                .into(),
            format!("time: best of {repeats} runs of forward + backward, single thread"),
        ],
        references: Vec::new(),
        rows: Vec::new(),
    };
    let (refs, rows) = sweep(&tb, &tols, repeats)?;
    report.references.push(refs);
    report.rows.extend(rows);
    let (refs, rows) = sweep(&mlp, &tols, repeats)?;
    report.references.push(refs);
    report.rows.extend(rows);

    write_json(out_dir, "gradient-accuracy", &report)?;
    plot_accuracy(out_dir, &report.rows)?;
    Ok(accuracy_markdown(&report))
}

/// The reference gradient of a problem (ACA on dopri8 at rtol 1e-12) and
/// every method's error at every tolerance.
fn sweep<F: VjpRhs<State>>(
    p: &Problem<'_, F>,
    tols: &[f64],
    repeats: usize,
) -> Result<(Reference, Vec<AccuracyRow>)> {
    let tight = SolveOptions::default().method(&DOPRI8).tol(1e-12, 1e-12).max_steps(1_000_000);
    eprintln!("[gradient-accuracy] {}: reference gradients", p.name);
    let reference = gradient(&p.f, &p.y0, &p.ts, &tight, &GradientMethod::Aca, p.loss)?;
    let adj = AdjointOptions::default().method(&DOPRI8).tol(1e-12, 1e-12);
    let check = gradient(&p.f, &p.y0, &p.ts, &tight, &GradientMethod::Adjoint(adj), p.loss)?;
    let refs = Reference {
        problem: p.name,
        description: "ACA on dopri8, rtol = atol = 1e-12".into(),
        gradient_norm: (reference.dy0.dot(&reference.dy0) + reference.dtheta.dot(&reference.dtheta)).sqrt(),
        cross_check_rel_diff: rel_err(&check, &reference),
        cross_check: "adjoint on dopri8 forward and backward, rtol = atol = 1e-12".into(),
    };
    let mut rows = Vec::new();
    for &tol in tols {
        for (method, opts) in methods_at(tol) {
            eprintln!("[gradient-accuracy] {}: {} at tol {tol:.0e}", p.name, method.name());
            let (g, secs) = best_of(repeats, || gradient(&p.f, &p.y0, &p.ts, &opts, &method, p.loss))?;
            rows.push(AccuracyRow {
                problem: p.name,
                method: method.name(),
                tol,
                rel_err: rel_err(&g, &reference),
                fwd_nfe: g.fwd.nfe,
                fwd_accepted: g.fwd.n_accepted,
                fwd_rejected: g.fwd.n_rejected,
                bwd_nfe: g.bwd.nfe,
                bwd_nvjp: g.bwd.nvjp,
                bwd_steps: g.bwd.n_steps,
                seconds: secs,
            });
        }
    }
    Ok((refs, rows))
}

fn accuracy_markdown(r: &AccuracyReport) -> String {
    let mut md = String::from("## gradient-accuracy\n\n");
    for s in &r.setup {
        md.push_str(&format!("- {s}\n"));
    }
    for x in &r.references {
        md.push_str(&format!(
            "- reference ({}): {}; |g_ref| = {:.4e}; cross-check ({}) differs by {:.2e} (relative)\n",
            x.problem, x.description, x.gradient_norm, x.cross_check, x.cross_check_rel_diff
        ));
    }
    md.push('\n');
    let headers = [
        "problem",
        "method",
        "tol",
        "rel. error",
        "fwd NFE (acc/rej)",
        "bwd NFE + VJPs (steps)",
        "ms / gradient",
    ];
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|x| {
            vec![
                x.problem.to_string(),
                x.method.to_string(),
                format!("{:.0e}", x.tol),
                sci(x.rel_err),
                format!("{} ({}/{})", x.fwd_nfe, x.fwd_accepted, x.fwd_rejected),
                format!("{} + {} ({})", x.bwd_nfe, x.bwd_nvjp, x.bwd_steps),
                format!("{:.3}", 1e3 * x.seconds),
            ]
        })
        .collect();
    md.push_str(&md_table(&headers, &rows));
    md
}

/// `gradient_accuracy.png`: error against tolerance and against time, one
/// line per method and problem.
fn plot_accuracy(out_dir: &Path, rows: &[AccuracyRow]) -> Result<()> {
    let mut by_tol = Chart {
        title: "gradient error vs tolerance".into(),
        x_label: "tolerance".into(),
        y_label: "relative gradient error".into(),
        log_x: true,
        log_y: true,
        legend: Legend::LowerRight,
        ..Chart::default()
    };
    let mut by_time = Chart {
        title: "gradient error vs time".into(),
        x_label: "seconds per gradient".into(),
        y_label: "relative gradient error".into(),
        log_x: true,
        log_y: true,
        legend: Legend::UpperRight,
        ..Chart::default()
    };
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.problem, r.method)) {
            keys.push((r.problem, r.method));
        }
    }
    for (i, (problem, method)) in keys.iter().enumerate() {
        let sel: Vec<&AccuracyRow> =
            rows.iter().filter(|r| r.problem == *problem && r.method == *method).collect();
        let label = format!("{problem} {method}");
        let color = i % 3;
        let tol_pts = sel.iter().map(|r| (r.tol, r.rel_err)).collect();
        let time_pts = sel.iter().map(|r| (r.seconds, r.rel_err)).collect();
        let (a, b) = (Series::line(&label, tol_pts, color).markers(), Series::line(&label, time_pts, color));
        let (a, b) = if i >= 3 { (a.dashed(), b.dashed().markers()) } else { (a, b.markers()) };
        by_tol.series.push(a);
        by_time.series.push(b);
    }
    plot::draw(&out_dir.join("gradient_accuracy.png"), &[by_tol, by_time], (640, 520))
}
