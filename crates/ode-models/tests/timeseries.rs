//! The time-series classifiers: padding, zero gaps, AUC, matched sizes,
//! training, and Direct vs ACA gradients.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use ode_models::data::{PaddedSeries, SeriesTensors};
use ode_models::timeseries::{
    build_classifier, macro_auc, one_vs_rest_auc, train_classifier, BlockChain, GruCell, GruVariant,
    ModelKind, ModelSizes, OdeRnnEncoder, SeriesBatch, SeriesClassifier, Standardizer, TsTrainConfig,
};
use ode_models::{GradMode, OdeBlock};
use tch::{nn, Device, Kind, Tensor};

/// `n` two-channel series of lengths 5..=12 at irregular times; class 1
/// oscillates twice as fast as class 0. Deterministic.
fn synthetic(n: usize) -> PaddedSeries {
    let (t_max, c) = (12, 2);
    let mut p = PaddedSeries {
        n,
        t_max,
        n_channels: c,
        values: vec![0.0; n * t_max * c],
        observed: vec![false; n * t_max * c],
        lengths: Vec::new(),
        labels: Vec::new(),
        times: vec![0.0; n * t_max],
    };
    for i in 0..n {
        let len = 5 + (i * 7) % 8;
        let label = i % 2;
        let freq = if label == 0 { 3.0 } else { 6.0 };
        let mut t = 0.0;
        for k in 0..t_max {
            if k < len {
                if k > 0 {
                    t += 0.04 + 0.05 * (((i * 13 + k * 5) % 7) as f64) / 7.0;
                }
                p.values[(i * t_max + k) * c] = (freq * t + i as f64).sin();
                p.values[(i * t_max + k) * c + 1] = (freq * t).cos() * 0.5 + 0.1 * label as f64;
                p.observed[(i * t_max + k) * c] = true;
                // The second channel is missing at every third row.
                p.observed[(i * t_max + k) * c + 1] = k % 3 != 2;
            }
            p.times[i * t_max + k] = t;
        }
        p.lengths.push(len);
        p.labels.push(label);
    }
    p
}

/// torch's generator is global and the tests of this file run on parallel
/// threads: the tests that seed it and then draw from it (initialization,
/// the Latent ODE's noise) hold this lock, so another test cannot draw in
/// between.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn rng_lock() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sizes(grad: &str, rtol: f64, atol: f64) -> ModelSizes {
    let mut s = ModelSizes::new(2, 2);
    s.hidden = 12;
    s.units = 12;
    s.latent = 4;
    s.latent_units = 8;
    (s.rtol, s.atol, s.grad) = (rtol, atol, grad.into());
    s
}

fn model_f64(kind: ModelKind, s: &ModelSizes, seed: i64) -> Box<dyn SeriesClassifier> {
    tch::manual_seed(seed);
    let mut m = build_classifier(kind, s, Device::Cpu).unwrap();
    m.var_store_mut().double();
    m
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// A series classified alone and inside a batch padded to a longer series
/// gets the same logits. GRUs: equal up to float rounding (measured
/// 1e-16 in f64, bound 1e-14). ODE models: the batched solve takes the
/// batch's steps, not the series' own, so they agree to the solver's
/// accuracy; at rtol 1e-9 / atol 1e-11 measured 5e-12 (ODE-RNN) and 2e-10
/// (Latent ODE), bound 1e-8.
#[test]
fn padding_does_not_change_a_series_logits() {
    let _rng = rng_lock();
    let data = SeriesTensors::from_padded(&synthetic(6));
    let scale = Standardizer::fit(&data);
    let s = sizes("direct", 1e-9, 1e-11);
    for kind in ModelKind::ALL {
        let m = model_f64(kind, &s, 1);
        let alone = SeriesBatch::gather(&data, &[0], &scale, Kind::Double, Device::Cpu).unwrap();
        // Series 0 has length 5; series 1 and 3 are longer.
        let batch = SeriesBatch::gather(&data, &[1, 0, 3], &scale, Kind::Double, Device::Cpu).unwrap();
        assert_eq!(alone.steps(), 5);
        assert!(batch.steps() > 5);
        let a = m.infer(&alone).unwrap().logits;
        let b = m.infer(&batch).unwrap().logits.narrow(0, 1, 1);
        let d = max_abs_diff(&a, &b);
        let bound = if kind.is_ode() { 1e-8 } else { 1e-14 };
        eprintln!("{}: |alone - batched| = {d:e}", kind.name());
        assert!(d < bound, "{}: |alone - batched| = {d:e}", kind.name());
    }
}

/// With every observation at the same time the ODE between rows is over a
/// zero gap, the identity: the encoder is the plain GRU update sequence
/// (every stage of the solver is exactly 0: measured difference 0, bound
/// 1e-14).
#[test]
fn ode_rnn_with_zero_gaps_is_the_gru_sequence() {
    let _rng = rng_lock();
    let mut p = synthetic(4);
    p.times.fill(0.0);
    let data = SeriesTensors::from_padded(&p);
    let scale = Standardizer::fit(&data);
    let batch = SeriesBatch::gather(&data, &[0, 1, 2, 3], &scale, Kind::Double, Device::Cpu).unwrap();
    tch::manual_seed(3);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let block = OdeBlock::new(ode_core::SolveOptions::default().tol(1e-6, 1e-8), GradMode::Direct);
    let enc = OdeRnnEncoder::new(&vs.root(), 2, 8, 8, block);
    vs.double();
    let mut chain = BlockChain::for_inference();
    let out = tch::no_grad(|| enc.encode(&batch, &mut chain)).unwrap();
    assert!(chain.stats.nfe_forward > 0, "the solves ran");
    let gru: &GruCell = &enc.gru;
    let mut h = Tensor::zeros([4, 8], (Kind::Double, Device::Cpu));
    let mut hs: Vec<Tensor> = (0..4).map(|_| Tensor::new()).collect();
    for k in 0..batch.steps() {
        let x = Tensor::cat(&[batch.values.select(1, k), batch.observed.select(1, k)], 1);
        h = tch::no_grad(|| gru.step(&x, &h));
        for (b, &len) in batch.lengths.iter().enumerate() {
            if k as usize + 1 == len {
                hs[b] = h.get(b as i64);
            }
        }
    }
    let expected = Tensor::stack(&hs, 0);
    let d = max_abs_diff(&out.h, &expected);
    eprintln!("|ODE-RNN - GRU| = {d:e}");
    assert!(d < 1e-14, "|ODE-RNN - GRU| = {d:e}");
}

#[test]
fn auc_on_hand_made_cases() {
    let pos = [false, false, true, true];
    assert_eq!(one_vs_rest_auc(&[0.1, 0.2, 0.8, 0.9], &pos), Some(1.0));
    assert_eq!(one_vs_rest_auc(&[0.9, 0.8, 0.2, 0.1], &pos), Some(0.0));
    // All tied: every pair counts one half.
    assert_eq!(one_vs_rest_auc(&[0.5; 4], &pos), Some(0.5));
    // One positive tied with one negative, the other above both: (1 + 1 + 1 + 0.5) / 4.
    assert_eq!(one_vs_rest_auc(&[0.1, 0.5, 0.5, 0.9], &pos), Some(0.875));
    // No negative: undefined.
    assert_eq!(one_vs_rest_auc(&[0.1, 0.2], &[true, true]), None);
    assert_eq!(one_vs_rest_auc(&[f64::NAN, 0.2], &[true, false]), None);
    // Macro over three classes: perfect scores give 1; class 2 absent is left out.
    let probs = vec![vec![0.9, 0.1, 0.0], vec![0.2, 0.8, 0.0], vec![0.7, 0.3, 0.0]];
    assert_eq!(macro_auc(&probs, &[0, 1, 0], 3), Some(1.0));
    // Class scores reversed for class 1 only: (1 + 0) / 2.
    let probs = vec![vec![0.9, 0.9, 0.0], vec![0.2, 0.1, 0.0], vec![0.7, 0.8, 0.0]];
    assert_eq!(macro_auc(&probs, &[0, 1, 0], 3), Some(0.5));
}

/// JapaneseVowels' shape: 12 channels, 9 classes; the default sizes.
#[test]
fn baselines_match_the_ode_rnn_parameter_count() {
    let s = ModelSizes::new(12, 9);
    let budget = s.budget();
    for kind in ModelKind::ALL {
        let m = build_classifier(kind, &s, Device::Cpu).unwrap();
        let count = m.parameter_count();
        assert_eq!(count, s.parameter_count(kind), "{}", kind.name());
        let rel = (count - budget).abs() as f64 / budget as f64;
        assert!(rel < 0.10, "{}: {count} vs {budget} ({:.1}%)", kind.name(), 100.0 * rel);
    }
    assert_eq!(GruVariant::TimeGap.parameter_count(12, 9, 1), 3 * 26 + 6 + 9 + 9);
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ts-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// 10 epochs on 32 synthetic series: the ODE-RNN (ACA) and the GRU-D lower
/// the mean training loss of the epoch from about ln 2 = 0.69 (measured
/// 0.69 -> 0.41 and 0.73 -> 0.35, ratios 0.59 and 0.48; bound 0.7); the
/// metrics file is written and the test evaluation runs.
#[test]
fn a_short_training_run_lowers_the_loss() {
    let _rng = rng_lock();
    let train = SeriesTensors::from_padded(&synthetic(32));
    let test = SeriesTensors::from_padded(&synthetic(16));
    let scale = Standardizer::fit(&train);
    for kind in [ModelKind::OdeRnn, ModelKind::Gru(GruVariant::Decay)] {
        tch::manual_seed(0);
        let mut m = build_classifier(kind, &sizes("aca", 1e-3, 1e-4), Device::Cpu).unwrap();
        let dir = temp_dir(kind.name());
        let cfg = TsTrainConfig {
            epochs: 10,
            batch_size: 8,
            progress: false,
            eval_batch_size: 4,
            ..Default::default()
        };
        let run =
            train_classifier(&mut *m, &train, &test, &scale, 2, &cfg, &dir, false, serde_json::json!({}))
                .unwrap();
        let (first, last) = (run.history[0].loss, run.history.last().unwrap().loss);
        eprintln!("{}: loss {first} -> {last}", kind.name());
        assert!(last < 0.7 * first, "{}: loss {first} -> {last}", kind.name());
        assert!(dir.join("metrics.json").exists());
        assert!(run.test.as_ref().is_some_and(|t| t.accuracy.is_finite()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The gradients of one batch by `Direct` (autograd through the steps) and
/// by ACA (discrete adjoint over the chain of cut solves) are the same
/// discrete gradient: measured relative difference 6e-17 in f64, bound
/// 1e-12. The adjoint solves a continuous adjoint, so it agrees only to the
/// solver's accuracy: at rtol 1e-7 measured 7e-10 (ODE-RNN) and 1e-7
/// (Latent ODE), bound 1e-5.
#[test]
fn direct_and_aca_gradients_agree() {
    let _rng = rng_lock();
    let data = SeriesTensors::from_padded(&synthetic(6));
    let scale = Standardizer::fit(&data);
    let batch = SeriesBatch::gather(&data, &[0, 1, 2, 3, 4, 5], &scale, Kind::Double, Device::Cpu).unwrap();
    for kind in [ModelKind::OdeRnn, ModelKind::LatentOde] {
        let grads = |grad: &str| -> Tensor {
            let m = model_f64(kind, &sizes(grad, 1e-7, 1e-9), 5);
            tch::manual_seed(11);
            let out = m.train_step(&batch).unwrap();
            assert!(out.loss.is_finite());
            let g: Vec<Tensor> =
                m.var_store().trainable_variables().iter().map(|v| v.grad().reshape([-1])).collect();
            Tensor::cat(&g, 0)
        };
        let direct = grads("direct");
        let norm = direct.norm().double_value(&[]);
        assert!(norm > 0.0);
        for (mode, bound) in [("aca", 1e-12), ("adjoint", 1e-5)] {
            let rel = (&direct - grads(mode)).norm().double_value(&[]) / norm;
            eprintln!("{} {mode}: relative difference {rel:e}", kind.name());
            assert!(rel < bound, "{} {mode}: relative difference {rel:e}", kind.name());
        }
    }
}

/// Two epochs, then a resumed run to four, give the uninterrupted run's
/// losses and test metrics exactly (weights and Adam's state come from the
/// checkpoint, the shuffle and the noise from the seed and the epoch).
#[test]
fn a_resumed_run_is_the_uninterrupted_run() {
    let _rng = rng_lock();
    let train = SeriesTensors::from_padded(&synthetic(16));
    let test = SeriesTensors::from_padded(&synthetic(8));
    let scale = Standardizer::fit(&train);
    let s = sizes("aca", 1e-3, 1e-4);
    let run = |epochs: usize, dir: &PathBuf, resume: bool| {
        tch::manual_seed(7);
        let mut m = build_classifier(ModelKind::LatentOde, &s, Device::Cpu).unwrap();
        let cfg = TsTrainConfig {
            epochs,
            batch_size: 4,
            progress: false,
            eval_batch_size: 8,
            ..Default::default()
        };
        train_classifier(&mut *m, &train, &test, &scale, 2, &cfg, dir, resume, serde_json::json!({})).unwrap()
    };
    let (whole, parts) = (temp_dir("whole"), temp_dir("parts"));
    let a = run(4, &whole, false);
    run(2, &parts, false);
    let b = run(4, &parts, true);
    assert_eq!(b.resumed_from, Some(2));
    let losses = |r: &ode_models::timeseries::TsRun| r.history.iter().map(|h| h.loss).collect::<Vec<_>>();
    assert_eq!(losses(&a), losses(&b));
    let (ta, tb) = (a.test.unwrap(), b.test.unwrap());
    assert_eq!((ta.accuracy, ta.macro_auc), (tb.accuracy, tb.macro_auc));
    for d in [whole, parts] {
        let _ = std::fs::remove_dir_all(d);
    }
}
