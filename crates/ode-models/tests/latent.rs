//! Latent ODE on spirals: data generation, subsampling, argument checks,
//! the analytic KL, training progress of every model, multi-output
//! ACA/adjoint gradients, the Poisson intensity integral, and resumes that
//! are bitwise the uninterrupted run.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use ode_models::latent::{
    kl_standard_normal, IrregularBatch, LatentError, LatentOde, LatentOdeConfig, RnnBaseline, RnnKind,
    SequenceModel, SpiralConfig, Spirals,
};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor};

/// torch's generator is global and the tests of a binary run in parallel:
/// each test holds this while it seeds and draws, so runs are repeatable.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn rng_lock() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn small(n: usize, seed: u64) -> SpiralConfig {
    SpiralConfig { n_spirals: n, seed, ..SpiralConfig::default() }
}

#[test]
fn spirals_are_deterministic_per_seed_and_follow_the_formulas() {
    let _rng = rng_lock();
    let a = Spirals::generate(&small(40, 3)).unwrap();
    let b = Spirals::generate(&small(40, 3)).unwrap();
    let c = Spirals::generate(&small(40, 4)).unwrap();
    assert_eq!(a.noisy, b.noisy);
    assert_eq!(a.start_index, b.start_index);
    assert_ne!(a.noisy, c.noisy);
    assert_eq!(a.noisy.dim(), (40, 200, 2));
    assert_eq!(a.times.len(), 200);
    assert_eq!(a.clockwise.iter().filter(|&&cw| cw).count(), 20);
    let (train, test) = a.split();
    assert_eq!((train.len(), test.len()), (32, 8));
    assert_eq!(test.iter().filter(|&&i| a.clockwise[i]).count(), 4);

    let cfg = &a.config;
    let dt = (cfg.stop - cfg.start) / (cfg.n_total - 1) as f64;
    assert!((a.times[1] - dt).abs() < 1e-12 && a.times[0] == 0.0);
    for i in 0..40 {
        let s = a.start_index[i];
        assert!(s >= cfg.min_start && s + 200 <= cfg.n_total);
        let cw = a.clockwise[i];
        // The first point against the formula, at the window's absolute time.
        let t = cfg.start + s as f64 * dt;
        let (x, y) = if cw {
            let z = cfg.stop + 1.0 - t;
            let r = 50.0 * cfg.b / z;
            (r * z.cos() - 5.0, r * z.sin())
        } else {
            (cfg.b * t * t.cos() + 5.0, cfg.b * t * t.sin())
        };
        assert!((a.clean[[i, 0, 0]] - x).abs() < 1e-12 && (a.clean[[i, 0, 1]] - y).abs() < 1e-12);
        // Direction of rotation about the centre: the cross product of
        // successive radius vectors is negative for clockwise.
        let cx = if cw { -5.0 } else { 5.0 };
        for k in 0..199 {
            let (x0, y0) = (a.clean[[i, k, 0]] - cx, a.clean[[i, k, 1]]);
            let (x1, y1) = (a.clean[[i, k + 1, 0]] - cx, a.clean[[i, k + 1, 1]]);
            assert_eq!(x0 * y1 - y0 * x1 < 0.0, cw, "spiral {i} step {k}");
        }
    }
    // The noise has the configured standard deviation.
    let d = &a.noisy - &a.clean;
    let sd = (d.mapv(|v| v * v).sum() / d.len() as f64).sqrt();
    assert!((sd - 0.3).abs() < 0.01, "noise sd {sd}");
}

#[test]
fn subsampling_picks_distinct_sorted_times_deterministically() {
    let _rng = rng_lock();
    let data = Spirals::generate(&small(20, 0)).unwrap();
    for n in [30, 50, 100] {
        let obs = data.subsample(n, 7).unwrap();
        assert_eq!(obs.indices.len(), 20);
        for idx in &obs.indices {
            assert_eq!(idx.len(), n);
            assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx.iter().all(|&k| k < 100));
        }
        assert_eq!(obs, data.subsample(n, 7).unwrap());
        if n < 100 {
            assert_ne!(obs, data.subsample(n, 8).unwrap());
            assert_ne!(obs.indices[0], obs.indices[1], "spirals get their own times");
        }
    }
    // The batch lays the observations on the union of times with a mask.
    let obs = data.subsample(30, 1).unwrap();
    let b = data.batch(&obs, &[0, 1, 2], Kind::Double, Device::Cpu).unwrap();
    let mut union: Vec<usize> = obs.indices[..3].iter().flatten().copied().collect();
    union.sort_unstable();
    union.dedup();
    assert_eq!(b.times, union.iter().map(|&k| data.times[k]).collect::<Vec<_>>());
    assert_eq!(b.mask.sum(Kind::Double).double_value(&[]), 90.0);
    let k = union.iter().position(|&u| u == obs.indices[1][0]).unwrap() as i64;
    assert_eq!(b.mask.double_value(&[1, k]), 1.0);
    assert_eq!(b.values.double_value(&[1, k, 0]), data.noisy[[1, obs.indices[1][0], 0]]);
}

fn arg_name(e: LatentError) -> &'static str {
    match e {
        LatentError::InvalidArgument { name, .. } => name,
        other => panic!("expected InvalidArgument, got {other}"),
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let _rng = rng_lock();
    let data = Spirals::generate(&small(10, 0)).unwrap();
    assert_eq!(arg_name(data.subsample(101, 0).unwrap_err()), "n_obs");
    assert_eq!(arg_name(data.subsample(0, 0).unwrap_err()), "n_obs");
    let gen = |cfg: SpiralConfig| arg_name(Spirals::generate(&cfg).unwrap_err());
    assert_eq!(gen(SpiralConfig { noise_std: f64::NAN, ..small(10, 0) }), "noise_std");
    assert_eq!(gen(SpiralConfig { noise_std: -1.0, ..small(10, 0) }), "noise_std");
    assert_eq!(gen(small(0, 0)), "n_spirals");
    assert_eq!(gen(SpiralConfig { n_window: 0, ..small(10, 0) }), "n_window");
    assert_eq!(gen(SpiralConfig { n_window: 400, ..small(10, 0) }), "n_total");
    assert_eq!(gen(SpiralConfig { stop: f64::INFINITY, ..small(10, 0) }), "stop");
    assert_eq!(gen(small(1, 0)), "test_fraction");
    let bad_cfg = LatentOdeConfig { obs_std: f64::NAN, ..Default::default() };
    assert_eq!(arg_name(LatentOde::new(bad_cfg, Device::Cpu).err().unwrap()), "obs_std");
    let bad_grad = LatentOdeConfig { grad: "backprop".into(), ..Default::default() };
    assert_eq!(arg_name(LatentOde::new(bad_grad, Device::Cpu).err().unwrap()), "grad");
    let v = Tensor::from_slice(&[0.0, f64::NAN]).view([1, 1, 2]);
    let m = Tensor::ones([1, 1], (Kind::Double, Device::Cpu));
    assert_eq!(arg_name(IrregularBatch::new(vec![0.0], v.zeros_like(), m.zeros_like()).unwrap_err()), "mask");
    assert_eq!(arg_name(IrregularBatch::new(vec![0.0], v, m.shallow_clone()).unwrap_err()), "values");
    let v2 = Tensor::zeros([1, 2, 2], (Kind::Double, Device::Cpu));
    let m2 = Tensor::ones([1, 2], (Kind::Double, Device::Cpu));
    assert_eq!(arg_name(IrregularBatch::new(vec![1.0, 0.5], v2, m2).unwrap_err()), "times");
    let wrong = IrregularBatch::new(vec![0.0], Tensor::zeros([1, 2, 2], (Kind::Double, Device::Cpu)), m);
    assert!(matches!(wrong, Err(LatentError::Shape(_))));
    // An RNN cannot predict before its last observation.
    let rnn = RnnBaseline::new(RnnKind::Plain, 2, 8, 0.3, true, Device::Cpu).unwrap();
    let obs = data.subsample(30, 0).unwrap();
    let b = data.batch(&obs, &[0], Kind::Double, Device::Cpu).unwrap();
    assert_eq!(arg_name(rnn.predict(&b, 0.0, &[0.0]).unwrap_err()), "query");
}

#[test]
fn analytic_kl_matches_monte_carlo() {
    let _rng = rng_lock();
    tch::manual_seed(11);
    let opts = (Kind::Double, Device::Cpu);
    let mean = Tensor::from_slice(&[0.5, -1.0, 0.0, 2.0, -0.3, 0.1, 0.7, 0.0]).view([2, 4]);
    let logvar = Tensor::from_slice(&[0.0, -1.0, 0.5, -2.0, 1.0, 0.2, -0.5, 0.0]).view([2, 4]);
    let analytic = kl_standard_normal(&mean, &logvar);
    // E_q[log q(z) - log p(z)] with z = mean + sigma eps, in closed-form
    // densities; the log(2 pi) terms cancel.
    let n = 200_000;
    let eps = Tensor::randn([n, 2, 4], opts);
    let z = &mean + &eps * (&logvar * 0.5).exp();
    let log_q = ((&eps.square() + &logvar) * -0.5).sum_dim_intlist(2, false, Kind::Double);
    let log_p = (z.square() * -0.5).sum_dim_intlist(2, false, Kind::Double);
    let d = log_q - log_p; // [n, 2]
    let mc = d.mean_dim(0, false, Kind::Double);
    let se = d.std_dim(0, true, false) / (n as f64).sqrt();
    for b in 0..2 {
        let (a, m, s) = (analytic.double_value(&[b]), mc.double_value(&[b]), se.double_value(&[b]));
        // Tolerance: 4 standard errors of the Monte-Carlo mean (about 0.01 here).
        assert!((a - m).abs() < 4.0 * s, "row {b}: analytic {a}, Monte-Carlo {m} +- {s}");
        assert!(s < 0.02);
    }
    // Zero exactly at the prior.
    let z = Tensor::zeros([1, 4], opts);
    assert_eq!(kl_standard_normal(&z, &z).double_value(&[0]), 0.0);
}

/// A few Adam steps on a small training set lower the model's loss.
fn loss_decreases(model: &mut dyn SequenceModel, steps: usize, lr: f64) -> (f64, f64) {
    let data = Spirals::generate(&small(20, 5)).unwrap();
    let obs = data.subsample(30, 5).unwrap();
    let (train, _) = data.split();
    let batch = data.batch(&obs, &train, Kind::Double, Device::Cpu).unwrap();
    let t_end = data.times[99];
    let before = model.loss(&batch, 0.0, t_end).unwrap();
    let mut opt = tch::nn::Adam::default().build(model.var_store(), lr).unwrap();
    for _ in 0..steps {
        opt.zero_grad();
        model.train_step(&batch, 0.0, t_end).unwrap();
        opt.step();
    }
    (before, model.loss(&batch, 0.0, t_end).unwrap())
}

#[test]
fn a_few_training_steps_reduce_every_models_loss() {
    let _rng = rng_lock();
    tch::manual_seed(0);
    let cfg = LatentOdeConfig { double: true, ..Default::default() };
    let mut latent = LatentOde::new(cfg.clone(), Device::Cpu).unwrap();
    let (b, a) = loss_decreases(&mut latent, 25, 0.01);
    assert!(a < 0.8 * b, "latent ODE: negative ELBO {b} -> {a}");
    let mut poisson = LatentOde::new(LatentOdeConfig { poisson: true, ..cfg }, Device::Cpu).unwrap();
    let (b, a) = loss_decreases(&mut poisson, 25, 0.01);
    assert!(a < 0.8 * b, "latent ODE + Poisson: {b} -> {a}");
    for kind in [RnnKind::Plain, RnnKind::TimeGap] {
        let mut rnn = RnnBaseline::new(kind, 2, 33, 0.3, true, Device::Cpu).unwrap();
        let (b, a) = loss_decreases(&mut rnn, 25, 0.01);
        assert!(a < 0.8 * b, "{}: {b} -> {a}", rnn.name());
    }
}

#[test]
fn parameter_counts_are_comparable() {
    let _rng = rng_lock();
    let latent = LatentOde::new(LatentOdeConfig::default(), Device::Cpu).unwrap();
    // enc (3+25)*25+25 + 25*8+8, dyn 4*20+20 + 20*4+4, dec 4*20+20 + 20*2+2.
    assert_eq!(latent.parameter_count(), 725 + 208 + 184 + 142);
    for kind in [RnnKind::Plain, RnnKind::TimeGap] {
        let h = RnnBaseline::hidden_for_budget(kind, 2, latent.parameter_count());
        let rnn = RnnBaseline::new(kind, 2, h, 0.3, false, Device::Cpu).unwrap();
        assert_eq!(rnn.parameter_count(), RnnBaseline::parameter_count_for(kind, 2, h));
        let ratio = rnn.parameter_count() as f64 / latent.parameter_count() as f64;
        assert!((ratio - 1.0).abs() < 0.05, "{kind:?}: {} parameters", rnn.parameter_count());
    }
}

/// All gradients of one training step of a latent ODE in mode `grad`, with
/// the weights of `like` and fixed reparameterization noise (tests run in
/// parallel and share torch's generator, so nothing here draws from it).
fn latent_gradients(grad: &str, like: Option<&LatentOde>) -> (Vec<f64>, f64, LatentOde) {
    let cfg =
        LatentOdeConfig { double: true, grad: grad.into(), rtol: 1e-10, atol: 1e-12, ..Default::default() };
    let mut model = LatentOde::new(cfg, Device::Cpu).unwrap();
    if let Some(src) = like {
        model.var_store_mut().copy(src.var_store()).unwrap();
    }
    let data = Spirals::generate(&small(10, 2)).unwrap();
    let obs = data.subsample(10, 2).unwrap();
    let batch = data.batch(&obs, &[0, 1], Kind::Double, Device::Cpu).unwrap();
    let eps = Tensor::from_slice(&[0.3, -1.2, 0.5, 0.9, -0.4, 0.1, 1.5, -0.7]).view([2, 4]);
    let out = model.train_step_with_noise(&batch, 0.0, data.times[99], &eps).unwrap();
    let mut vars: Vec<(String, Tensor)> = model.var_store().variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let g = vars.iter().flat_map(|(_, v)| Vec::<f64>::try_from(v.grad().flatten(0, -1)).unwrap()).collect();
    (g, out.loss, model)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    num / b.iter().map(|q| q * q).sum::<f64>().sqrt()
}

#[test]
fn multi_output_aca_and_adjoint_match_direct() {
    let _rng = rng_lock();
    let (direct, l_direct, reference) = latent_gradients("direct", None);
    let (aca, l_aca, _) = latent_gradients("aca", Some(&reference));
    let (adjoint, _, _) = latent_gradients("adjoint", Some(&reference));
    assert_eq!(l_direct, l_aca, "the same forward solve");
    assert_eq!(direct.len(), aca.len());
    assert!(direct.iter().all(|g| g.is_finite()) && direct.iter().any(|g| *g != 0.0));
    let r_aca = rel(&aca, &direct);
    let r_adj = rel(&adjoint, &direct);
    eprintln!("relative gradient error vs direct: ACA {r_aca:e}, adjoint {r_adj:e}");
    assert!(r_aca < 1e-6, "ACA vs direct: {r_aca:e}");
    // The adjoint solves the continuous adjoint equation backwards at the
    // forward's tolerances, so it converges to the discrete gradient as the
    // tolerance shrinks. Measured on this problem (relative, per parameter
    // group, largest, 4 spirals x 30 observations): 2e-3 at rtol 1e-6, 9e-5 at
    // 1e-8, 2e-6 at 1e-10. Here (2 spirals x 10, rtol 1e-10): ACA 4e-16,
    // adjoint 1.6e-6 over all gradients.
    assert!(r_adj < 2e-5, "adjoint vs direct: {r_adj:e}");
}

#[test]
fn poisson_integral_equals_a_quadrature_of_the_intensity() {
    let _rng = rng_lock();
    tch::manual_seed(4);
    let cfg = LatentOdeConfig { double: true, poisson: true, rtol: 1e-10, atol: 1e-12, ..Default::default() };
    let model = LatentOde::new(cfg, Device::Cpu).unwrap();
    let z0 = Tensor::randn([3, 4], (Kind::Double, Device::Cpu));
    let n = 801;
    let t_end = 4.0;
    let ts: Vec<f64> = (0..n).map(|k| t_end * k as f64 / (n - 1) as f64).collect();
    let ys = model.solve_latent(&z0, &ts).unwrap();
    let states = Tensor::stack(&ys, 1); // [3, n, 5]
    let lam = model.intensity(&states.narrow(2, 0, 4)).unwrap().squeeze_dim(-1); // [3, n]
    let big_lambda = states.select(2, 4); // [3, n]
                                          // Composite Simpson's rule on the solved trajectory.
    let h = t_end / (n - 1) as f64;
    for b in 0..3 {
        let l: Vec<f64> = Vec::try_from(lam.get(b)).unwrap();
        let mut s = l[0] + l[n - 1];
        for (k, v) in l.iter().enumerate().take(n - 1).skip(1) {
            s += if k % 2 == 1 { 4.0 * v } else { 2.0 * v };
        }
        let quad = s * h / 3.0;
        let solved = big_lambda.double_value(&[b, (n - 1) as i64]);
        assert!(quad > 0.0 && big_lambda.double_value(&[b, 0]) == 0.0);
        assert!((solved - quad).abs() < 1e-7 * quad, "row {b}: solved {solved}, Simpson {quad}");
        let cum: Vec<f64> = Vec::try_from(big_lambda.get(b)).unwrap();
        assert!(cum.windows(2).all(|w| w[1] > w[0]), "the integral of a positive intensity increases");
    }
}

#[test]
fn training_checkpoints_and_resumes() {
    let _rng = rng_lock();
    use ode_models::latent::{train_spirals, LatentTrainConfig};
    let dir = std::env::temp_dir().join(format!("latent-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = Spirals::generate(&small(10, 1)).unwrap();
    let obs = data.subsample(20, 1).unwrap();
    let cfg = LatentTrainConfig {
        iterations: 4,
        checkpoint_every: 2,
        log_every: 1,
        n_examples: 2,
        progress: false,
        ..Default::default()
    };
    tch::set_num_threads(1);
    tch::manual_seed(3);
    let mut rnn = RnnBaseline::new(RnnKind::TimeGap, 2, 8, 0.3, false, Device::Cpu).unwrap();
    let first = train_spirals(&mut rnn, &data, &obs, &cfg, &dir, true, serde_json::json!({})).unwrap();
    assert_eq!((first.iterations_done, first.resumed_from, first.history.len()), (4, None, 4));
    let test = first.test.as_ref().unwrap();
    assert!(test.rmse_extrap.is_finite() && test.rmse_extrap > 0.0 && test.n_test == 2);
    assert!(test.rmse_window.is_some_and(|r| r.is_finite() && r > 0.0), "window RMSE {:?}", test.rmse_window);
    assert_eq!(first.examples.len(), 2);
    // The RNN's curve: one point per observation, then the 100 extrapolation times.
    assert_eq!(first.examples[0].fit.len(), 20 + 100);

    let mut again = RnnBaseline::new(RnnKind::TimeGap, 2, 8, 0.3, false, Device::Cpu).unwrap();
    let more = LatentTrainConfig { iterations: 6, ..cfg.clone() };
    let second = train_spirals(&mut again, &data, &obs, &more, &dir, true, serde_json::json!({})).unwrap();
    assert_eq!((second.iterations_done, second.resumed_from, second.history.len()), (6, Some(4), 6));
    assert_eq!(
        second.history[..4].iter().map(|h| h.loss).collect::<Vec<_>>(),
        first.history.iter().map(|h| h.loss).collect::<Vec<_>>()
    );
    // Bitwise the run that was never interrupted (Adam's moments restored).
    let straight_dir = dir.with_extension("straight");
    tch::manual_seed(3);
    let mut straight = RnnBaseline::new(RnnKind::TimeGap, 2, 8, 0.3, false, Device::Cpu).unwrap();
    train_spirals(&mut straight, &data, &obs, &more, &straight_dir, false, serde_json::json!({})).unwrap();
    assert!(same_variables(&again, &straight), "resumed RNN run differs from the uninterrupted one");
    let _ = std::fs::remove_dir_all(&straight_dir);
    let mut names: Vec<String> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["iter-000004.json", "iter-000004.safetensors", "iter-000006.json", "iter-000006.safetensors"]
    );

    // A checkpoint past the requested length is refused: continuing would
    // write metrics for a run longer than its configuration says.
    let mut shorter_model = RnnBaseline::new(RnnKind::TimeGap, 2, 8, 0.3, false, Device::Cpu).unwrap();
    let shorter = LatentTrainConfig { iterations: 5, ..cfg.clone() };
    let err = train_spirals(&mut shorter_model, &data, &obs, &shorter, &dir, true, serde_json::json!({}))
        .unwrap_err();
    assert!(
        matches!(err, ode_models::latent::LatentError::InvalidArgument { name: "iterations", .. }),
        "{err}"
    );

    // A checkpoint of another model is refused with an error naming the file.
    let mut latent = LatentOde::new(LatentOdeConfig::default(), Device::Cpu).unwrap();
    let err = train_spirals(&mut latent, &data, &obs, &more, &dir, true, serde_json::json!({})).unwrap_err();
    assert!(matches!(err, LatentError::Checkpoint { .. }), "{err}");
    // A truncated sidecar too.
    std::fs::write(dir.join("checkpoints").join("iter-000006.json"), "{\"model\": ").unwrap();
    let mut rnn3 = RnnBaseline::new(RnnKind::TimeGap, 2, 8, 0.3, false, Device::Cpu).unwrap();
    let err = train_spirals(&mut rnn3, &data, &obs, &more, &dir, true, serde_json::json!({})).unwrap_err();
    assert!(matches!(err, LatentError::Checkpoint { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rnn_window_predictions_read_forward_from_earlier_observations() {
    tch::manual_seed(7);
    let data = Spirals::generate(&small(6, 11)).unwrap();
    let obs = data.subsample(30, 11).unwrap();
    let idx: Vec<usize> = (0..4).collect();
    let batch = data.batch(&obs, &idx, Kind::Double, Device::Cpu).unwrap();
    let window = &data.times[..100];
    for kind in [RnnKind::Plain, RnnKind::TimeGap] {
        let rnn = RnnBaseline::new(kind, 2, 16, 0.3, true, Device::Cpu).unwrap();
        let win = rnn.predict_window(&batch, 0.0, window).unwrap();
        assert_eq!(win.size(), [4, 100, 2]);
        let at_obs = rnn.predict(&batch, 0.0, &[window[99] + 1.0]).unwrap().at_obs;
        for (b, &i) in idx.iter().enumerate() {
            let own = &obs.indices[i];
            for (j, &w) in own.iter().enumerate() {
                // At an observed time: the one-step-ahead prediction.
                let k = batch.times.iter().position(|&t| t == window[w]).unwrap();
                let d = (win.get(b as i64).get(w as i64) - at_obs.get(b as i64).get(k as i64)).abs().max();
                assert!(d.double_value(&[]) < 1e-12, "{kind:?} spiral {i} time {w}");
                // Between two observations: the plain RNN cannot see the gap, the other one does.
                if j > 0 && own[j - 1] + 1 < w {
                    let between = win.get(b as i64).get(w as i64 - 1);
                    let diff = (&between - win.get(b as i64).get(w as i64)).abs().max().double_value(&[]);
                    match kind {
                        RnnKind::Plain => assert!(diff < 1e-12, "plain RNN depends on the gap ({diff})"),
                        RnnKind::TimeGap => assert!(diff > 1e-9, "time-gap RNN ignores the gap"),
                    }
                }
            }
        }
        // Window times that skip an observation time are refused.
        let missing: Vec<f64> = window.iter().copied().filter(|&t| t != batch.times[3]).collect();
        assert!(matches!(
            rnn.predict_window(&batch, 0.0, &missing),
            Err(LatentError::InvalidArgument { name: "times", .. })
        ));
    }
}

fn same_variables(a: &dyn SequenceModel, b: &dyn SequenceModel) -> bool {
    let (va, vb) = (a.var_store().variables(), b.var_store().variables());
    !va.is_empty() && va.len() == vb.len() && va.iter().all(|(n, t)| vb.get(n).is_some_and(|u| t.equal(u)))
}

fn train_latent(
    iterations: usize,
    data: &Spirals,
    obs: &ode_models::latent::Observations,
    dir: &Path,
    resume: bool,
) -> LatentOde {
    use ode_models::latent::{train_spirals, LatentTrainConfig};
    let cfg = LatentTrainConfig {
        iterations,
        checkpoint_every: 2,
        n_examples: 0,
        progress: false,
        ..Default::default()
    };
    tch::manual_seed(11);
    let mut m = LatentOde::new(LatentOdeConfig::default(), Device::Cpu).unwrap();
    train_spirals(&mut m, data, obs, &cfg, dir, resume, serde_json::json!({})).unwrap();
    m
}

#[test]
fn latent_ode_resume_is_bitwise_the_uninterrupted_run() {
    let _rng = rng_lock();
    tch::set_num_threads(1);
    let base = std::env::temp_dir().join(format!("latent-ode-resume-{}", std::process::id()));
    let (resumed_dir, straight_dir) = (base.join("resumed"), base.join("straight"));
    let _ = std::fs::remove_dir_all(&base);
    let data = Spirals::generate(&small(10, 2)).unwrap();
    let obs = data.subsample(15, 2).unwrap();
    // Two iterations, "killed", then resumed to four: the reparameterisation
    // noise and Adam's state must both come back.
    train_latent(2, &data, &obs, &resumed_dir, false);
    let resumed = train_latent(4, &data, &obs, &resumed_dir, true);
    let straight = train_latent(4, &data, &obs, &straight_dir, false);
    assert!(same_variables(&resumed, &straight), "resumed latent ODE run differs from the uninterrupted one");
    // Control: the comparison can tell runs apart.
    let shorter = train_latent(3, &data, &obs, &base.join("shorter"), false);
    assert!(!same_variables(&shorter, &straight));
    let _ = std::fs::remove_dir_all(&base);
}
