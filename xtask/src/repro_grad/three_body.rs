//! `three-body`: learn the three masses of the ACA paper's system from
//! observed positions with each gradient method.

use super::*;

/// Adam over a flat parameter vector.
pub(super) struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Array1<f64>,
    v: Array1<f64>,
    t: i32,
}

impl Adam {
    pub(super) fn new(n: usize, lr: f64, beta1: f64, beta2: f64) -> Self {
        Adam { lr, beta1, beta2, eps: 1e-8, m: Array1::zeros(n), v: Array1::zeros(n), t: 0 }
    }

    pub(super) fn step(&mut self, p: &mut Array1<f64>, g: &Array1<f64>) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        self.m = b1 * &self.m + (1.0 - b1) * g;
        self.v = b2 * &self.v + (1.0 - b2) * &g.mapv(|x| x * x);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for i in 0..p.len() {
            p[i] -= self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + self.eps);
        }
    }
}

const TRUE_MASSES: [f64; 3] = [1.1, 1.1, 0.9];
/// The paper's training tolerance (rtol = atol).
const TRAIN_TOL: f64 = 1e-7;

#[derive(Serialize)]
struct Fit {
    seed: u64,
    method: String,
    initial_masses: Vec<f64>,
    masses: Vec<f64>,
    /// Euclidean distance to the true masses.
    mass_error: f64,
    /// Training loss (position MSE on the observations) at the final masses.
    final_loss: f64,
    /// Position MSE against the truth on 2000 points of [0, 2].
    trajectory_mse: f64,
    /// `|dm - dm_ref| / |dm_ref|` of the first epoch's mass gradient against
    /// the reference (ACA on dopri8 at rtol 1e-12).
    grad0_rel_err: Option<f64>,
    /// Epochs completed (fewer than asked when a gradient failed).
    epochs: usize,
    /// Why training stopped early, if it did.
    failure: Option<String>,
    seconds: f64,
    fwd_nfe: usize,
    bwd_nfe: usize,
    bwd_nvjp: usize,
    loss_history: Vec<f64>,
    mass_history: Vec<Vec<f64>>,
}

#[derive(Serialize)]
struct Start {
    seed: u64,
    masses: Vec<f64>,
    /// Closest approach of two bodies on [0, 1] with these masses, and when.
    closest_approach: (f64, f64),
}

#[derive(Serialize)]
struct ThreeBodyReport {
    setup: Vec<String>,
    /// Closest approach of two bodies on [0, 2] for the true masses.
    truth_closest_approach: (f64, f64),
    starts: Vec<Start>,
    fits: Vec<Fit>,
}

/// The fixed data of the fitting experiment.
struct FitData {
    y0: State,
    obs_ts: Vec<f64>,
    obs: Vec<State>,
    test_ts: Vec<f64>,
    test: Vec<State>,
}

/// One training configuration: label, gradient method, solver options.
type Variant = (String, GradientMethod, SolveOptions);

/// The paper's three methods at its tolerance, plus ACA at 1e-10.
fn fit_variants() -> Vec<Variant> {
    let mut v: Vec<Variant> =
        methods_at(TRAIN_TOL).into_iter().map(|(m, o)| (m.name().to_string(), m, o)).collect();
    v.push(("aca (tol 1e-10)".into(), GradientMethod::Aca, SolveOptions::default().tol(1e-10, 1e-10)));
    v
}

pub(super) fn three_body(quick: bool, out_dir: &Path) -> Result<String> {
    let epochs = if quick { 20 } else { 100 };
    let seeds: &[u64] = if quick { &[2020] } else { &[2020, 1, 2, 3, 4] };
    let truth = ThreeBody::aca_paper(Array1::from(TRUE_MASSES.to_vec()));
    let y0 = ThreeBody::aca_paper_initial_state();
    let obs_ts = linspace(0.0, 1.0, 1000);
    let test_ts = linspace(0.0, 2.0, 2000);
    let data = FitData {
        obs: tight_positions(&truth, &y0, &obs_ts)?,
        test: tight_positions(&truth, &y0, &test_ts)?,
        y0,
        obs_ts,
        test_ts,
    };
    let mut starts = Vec::new();
    let mut fits = Vec::new();
    for &seed in seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let m0: Array1<f64> = Array1::from_shape_fn(3, |_| rng.gen_range(0.9..1.1));
        let closest = closest_approach(&truth.with_masses(m0.clone()), &data.y0, 1.0)?;
        eprintln!(
            "[three-body] seed {seed}: initial masses {:.4?}, closest approach {:.2e} at t = {:.3}",
            m0.to_vec(),
            closest.0,
            closest.1
        );
        starts.push(Start { seed, masses: m0.to_vec(), closest_approach: closest });
        let loss = |ys: &[State]| position_mse(ys, &data.obs);
        let tight = SolveOptions::default().method(&DOPRI8).tol(1e-12, 1e-12).max_steps(1_000_000);
        let f0 = truth.with_masses(m0.clone());
        let dm_ref = gradient(&f0, &data.y0, &data.obs_ts, &tight, &GradientMethod::Aca, &loss)?.dtheta;
        let mut initial = evaluate_fixed("initial guess", &truth, &m0, &data)?;
        initial.seed = seed;
        fits.push(initial);
        for (label, method, opts) in fit_variants() {
            let mut fit = fit_masses(&truth, &m0, &data, (&label, &method, &opts), epochs, &dm_ref)?;
            fit.seed = seed;
            fits.push(fit);
        }
    }
    let report = ThreeBodyReport {
        setup: vec![
            "system: the ACA paper's (torch_ACA three_body_problem.py): 3-D, G = K1 ~ 0.2005, r' = K2 v with \
             K2 ~ 7.239, r = (0,0.2,0), (0.5,0,0.5), (0,0,0.5), v = (0,0.1,0), (0,0,0.1), (0.1,0,0); \
             true masses (1.1, 1.1, 0.9)"
                .into(),
            "data: positions at 1000 equally spaced times on [0, 1] from a dopri8 solve at rtol 1e-11, \
             atol 1e-13 (noise-free)"
                .into(),
            format!(
                "initial masses: uniform in [0.9, 1.1] per seed (seeds {seeds:?}), the same for every \
                 method; loss: MSE of the 9 position components over the 1000 times (the paper's script \
                 also weights time t by 0.01^t; not done here)"
            ),
            format!(
                "training: dopri5 (adjoint, ACA; adjoint backward at the same tolerance) or adaptive ALF \
                 (MALI), rtol = atol = {TRAIN_TOL:.0e} as in the paper, plus ACA at 1e-10 for comparison; \
                 Adam lr 0.1, betas (0.5, 0.5), eps 1e-8, lr x 0.95 before every epoch (as the paper's \
                 script); {epochs} epochs of one full-batch step"
            ),
            "trajectory MSE: positions of a dopri8 solve with the fitted masses against the truth at \
             2000 equally spaced times on [0, 2]; grad0 error: the first epoch's mass gradient against \
             ACA on dopri8 at rtol = atol = 1e-12"
                .into(),
        ],
        truth_closest_approach: closest_approach(&truth, &data.y0, 2.0)?,
        starts,
        fits,
    };
    write_json(out_dir, "three-body", &report)?;
    plot_orbits(out_dir, &truth, &report, &data)?;
    Ok(three_body_markdown(&report))
}

/// The smallest distance between two bodies on `[0, t_end]` (sampled at
/// 20,000 points per time unit of a tight solve) and when it occurs.
fn closest_approach(f: &ThreeBody, y0: &State, t_end: f64) -> Result<(f64, f64)> {
    let ts = linspace(0.0, t_end, (20_000.0 * t_end) as usize + 1);
    let pos = tight_positions(f, y0, &ts)?;
    let (n, dim) = (f.n_bodies(), f.dim);
    let mut best = (f64::INFINITY, 0.0);
    for (t, p) in ts.iter().zip(&pos) {
        for i in 0..n {
            for j in i + 1..n {
                let d2: f64 = (0..dim).map(|k| (p[i * dim + k] - p[j * dim + k]).powi(2)).sum();
                if d2.sqrt() < best.0 {
                    best = (d2.sqrt(), *t);
                }
            }
        }
    }
    Ok(best)
}

/// Training loss and test error of fixed masses (no training).
fn evaluate_fixed(label: &str, truth: &ThreeBody, masses: &Array1<f64>, data: &FitData) -> Result<Fit> {
    let f = truth.with_masses(masses.clone());
    let np = f.n_positions();
    let pad = |p: &State| {
        let mut y = Array1::zeros(2 * np);
        y.slice_mut(ndarray::s![..np]).assign(p);
        y
    };
    let obs_fit: Vec<State> = tight_positions(&f, &data.y0, &data.obs_ts)?.iter().map(pad).collect();
    let test_fit: Vec<State> = tight_positions(&f, &data.y0, &data.test_ts)?.iter().map(pad).collect();
    Ok(Fit {
        seed: 0,
        method: label.into(),
        initial_masses: masses.to_vec(),
        masses: masses.to_vec(),
        mass_error: mass_error(masses),
        final_loss: position_mse(&obs_fit, &data.obs).0,
        trajectory_mse: position_mse(&test_fit, &data.test).0,
        grad0_rel_err: None,
        epochs: 0,
        failure: None,
        seconds: 0.0,
        fwd_nfe: 0,
        bwd_nfe: 0,
        bwd_nvjp: 0,
        loss_history: Vec::new(),
        mass_history: Vec::new(),
    })
}

fn mass_error(m: &Array1<f64>) -> f64 {
    m.iter().zip(TRUE_MASSES).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
}

/// Fits the masses by Adam on the gradients of one variant, starting at
/// `m0`; `dm_ref` is the reference mass gradient at `m0`. A failed gradient
/// ends the training early and is recorded in the result.
fn fit_masses(
    truth: &ThreeBody,
    m0: &Array1<f64>,
    data: &FitData,
    (label, method, opts): (&str, &GradientMethod, &SolveOptions),
    epochs: usize,
    dm_ref: &Array1<f64>,
) -> Result<Fit> {
    let loss = |ys: &[State]| position_mse(ys, &data.obs);
    let mut masses = m0.clone();
    let mut adam = Adam::new(3, 0.1, 0.5, 0.5);
    let (mut loss_history, mut mass_history) = (Vec::new(), vec![masses.to_vec()]);
    let (mut fwd_nfe, mut bwd_nfe, mut bwd_nvjp) = (0, 0, 0);
    let (mut grad0_rel_err, mut failure, mut done) = (None, None, 0);
    let start = Instant::now();
    for epoch in 0..epochs {
        adam.lr *= 0.95;
        let f = truth.with_masses(masses.clone());
        let g = match gradient(&f, &data.y0, &data.obs_ts, opts, method, &loss) {
            Ok(g) => g,
            Err(e) => {
                let msg = format!("epoch {epoch}, masses {:.4?}: {e:#}", masses.to_vec());
                eprintln!("[three-body] {label} stopped: {msg}");
                failure = Some(msg);
                break;
            }
        };
        done += 1;
        (fwd_nfe, bwd_nfe, bwd_nvjp) = (fwd_nfe + g.fwd.nfe, bwd_nfe + g.bwd.nfe, bwd_nvjp + g.bwd.nvjp);
        if epoch == 0 {
            let d = &g.dtheta - dm_ref;
            grad0_rel_err = Some((d.dot(&d) / dm_ref.dot(dm_ref)).sqrt());
        }
        adam.step(&mut masses, &g.dtheta);
        loss_history.push(g.loss);
        mass_history.push(masses.to_vec());
        if epoch % 10 == 0 || epoch + 1 == epochs {
            eprintln!(
                "[three-body] {label} epoch {epoch}: loss {:.3e}, masses {:.4?}",
                g.loss,
                masses.to_vec()
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut fit = evaluate_fixed(label, truth, &masses, data)?;
    fit.initial_masses = m0.to_vec();
    fit.grad0_rel_err = grad0_rel_err;
    (fit.epochs, fit.failure) = (done, failure);
    fit.seconds = seconds;
    (fit.fwd_nfe, fit.bwd_nfe, fit.bwd_nvjp) = (fwd_nfe, bwd_nfe, bwd_nvjp);
    fit.loss_history = loss_history;
    fit.mass_history = mass_history;
    Ok(fit)
}

fn three_body_markdown(r: &ThreeBodyReport) -> String {
    let mut md = String::from("## three-body\n\n");
    for s in &r.setup {
        md.push_str(&format!("- {s}\n"));
    }
    let (d, t) = r.truth_closest_approach;
    md.push_str(&format!("- closest approach of two bodies with the true masses: {d:.2e} at t = {t:.3}\n"));
    for s in &r.starts {
        let (d, t) = s.closest_approach;
        md.push_str(&format!(
            "- seed {}: initial masses {:.4?}; closest approach on [0, 1]: {d:.2e} at t = {t:.3}\n",
            s.seed, s.masses
        ));
    }
    md.push('\n');
    let headers = [
        "seed",
        "method",
        "fitted masses",
        "mass error (L2)",
        "train loss",
        "trajectory MSE [0, 2]",
        "grad0 error",
        "epochs",
        "time (s)",
        "fwd NFE",
        "bwd NFE + VJPs",
    ];
    let rows: Vec<Vec<String>> = r
        .fits
        .iter()
        .map(|x| {
            let m: Vec<String> = x.masses.iter().map(|v| format!("{v:.4}")).collect();
            vec![
                x.seed.to_string(),
                x.method.clone(),
                format!("({})", m.join(", ")),
                sci(x.mass_error),
                sci(x.final_loss),
                sci(x.trajectory_mse),
                x.grad0_rel_err.map_or("-".into(), sci),
                if x.failure.is_some() { format!("{} (failed)", x.epochs) } else { x.epochs.to_string() },
                format!("{:.2}", x.seconds),
                x.fwd_nfe.to_string(),
                format!("{} + {}", x.bwd_nfe, x.bwd_nvjp),
            ]
        })
        .collect();
    md.push_str(&md_table(&headers, &rows));
    let failed: Vec<&Fit> = r.fits.iter().filter(|x| x.failure.is_some()).collect();
    if !failed.is_empty() {
        md.push('\n');
    }
    for x in failed {
        let why = x.failure.as_deref().unwrap_or_default();
        md.push_str(&format!("- seed {} {} stopped at {why}\n", x.seed, x.method));
    }
    md
}

/// `three_body.png`: x-y projections of the true (solid) and fitted (dashed)
/// orbits on [0, 2], one panel per method, for the first seed.
fn plot_orbits(out_dir: &Path, truth: &ThreeBody, r: &ThreeBodyReport, data: &FitData) -> Result<()> {
    let dim = truth.dim;
    let xy = |ys: &[State], body: usize| -> Vec<(f64, f64)> {
        ys.iter().map(|p| (p[body * dim], p[body * dim + 1])).collect()
    };
    let first_seed = r.fits.first().map(|f| f.seed);
    let mut charts = Vec::new();
    for fit in r.fits.iter().filter(|f| Some(f.seed) == first_seed) {
        let f = truth.with_masses(Array1::from(fit.masses.clone()));
        let fitted = tight_positions(&f, &data.y0, &data.test_ts)?;
        let mut chart = Chart {
            title: format!("{} (mass err {:.1e})", fit.method, fit.mass_error),
            x_label: "x".into(),
            y_label: "y".into(),
            equal_aspect: true,
            ..Chart::default()
        };
        for body in 0..truth.n_bodies() {
            chart.series.push(Series::line(format!("body {} true", body + 1), xy(&data.test, body), body));
            chart
                .series
                .push(Series::line(format!("body {} fitted", body + 1), xy(&fitted, body), body).dashed());
        }
        charts.push(chart);
    }
    plot::draw(&out_dir.join("three_body.png"), &charts, (460, 460))
}
