//! Our optimizers: the same numbers as libtorch's (through tch), a resume
//! through a checkpoint that is bitwise the uninterrupted run, and typed
//! errors for bad settings, bad gradients and bad state.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use ode_models::checkpoint::{CheckpointStore, OptimizerRestore};
use ode_models::optim::{Adam, AdamConfig, OptimError, Optimizer, Sgd, SgdConfig};
use ode_models::train::TrainError;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

/// torch's generator is global and the tests of a binary run in parallel:
/// each test holds this while it seeds and draws, so runs are repeatable.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn rng_lock() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 4-8-2 tanh network in `vs`, initialised from `seed`.
fn net(vs: &nn::VarStore, seed: i64) -> nn::Sequential {
    tch::manual_seed(seed);
    nn::seq()
        .add(nn::linear(vs.root() / "l1", 4, 8, Default::default()))
        .add_fn(|x| x.tanh())
        .add(nn::linear(vs.root() / "l2", 8, 2, Default::default()))
}

/// Fixed regression data; batch `i` of `n` steps is rows `8i..8i+8`.
fn data(kind: Kind) -> (Tensor, Tensor) {
    tch::manual_seed(99);
    let x = Tensor::randn([8 * 40, 4], (kind, CPU));
    let y = Tensor::randn([8 * 40, 2], (kind, CPU));
    (x, y)
}

fn loss_backward(model: &nn::Sequential, (x, y): &(Tensor, Tensor), i: usize) {
    let xb = x.narrow(0, 8 * i as i64, 8);
    let yb = y.narrow(0, 8 * i as i64, 8);
    (model.forward(&xb) - yb).square().mean(Kind::Float).backward();
}

/// The learning rate of step `i`: halved after ten steps, so `set_lr` is exercised.
fn lr_at(base: f64, i: usize) -> f64 {
    if i < 10 {
        base
    } else {
        base / 2.0
    }
}

/// Largest |a - b| over all variables, relative to the largest |b|.
fn rel_diff(a: &nn::VarStore, b: &nn::VarStore) -> f64 {
    let (va, vb) = (a.variables(), b.variables());
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for (name, t) in &va {
        let u = &vb[name];
        diff = diff.max((t - u).abs().max().double_value(&[]));
        scale = scale.max(u.abs().max().double_value(&[]));
    }
    diff / scale
}

fn bitwise_equal(a: &nn::VarStore, b: &nn::VarStore) -> bool {
    let vb = b.variables();
    a.variables().iter().all(|(name, t)| t.equal(&vb[name]))
}

fn store_pair(kind: Kind) -> (nn::VarStore, nn::Sequential, nn::VarStore, nn::Sequential) {
    let mut vs_a = nn::VarStore::new(CPU);
    let a = net(&vs_a, 1);
    let mut vs_b = nn::VarStore::new(CPU);
    let b = net(&vs_b, 2);
    if kind == Kind::Double {
        vs_a.double();
        vs_b.double();
    }
    vs_b.copy(&vs_a).unwrap();
    (vs_a, a, vs_b, b)
}

/// 20 steps of ours against 20 of tch's on identical models and data.
fn against_tch(
    kind: Kind,
    ours: &mut dyn FnMut(&nn::VarStore) -> Box<dyn Optimizer>,
    theirs: &dyn Fn(&nn::VarStore) -> nn::Optimizer,
    base_lr: f64,
) -> f64 {
    let (vs_a, a, vs_b, b) = store_pair(kind);
    let d = data(kind);
    let mut opt_a = ours(&vs_a);
    let mut opt_b = theirs(&vs_b);
    let init = vs_a.variables()["l1.weight"].to_kind(Kind::Double).copy();
    for i in 0..20 {
        opt_a.set_lr(lr_at(base_lr, i)).unwrap();
        opt_b.set_lr(lr_at(base_lr, i));
        opt_a.zero_grad();
        loss_backward(&a, &d, i);
        opt_a.step().unwrap();
        opt_b.zero_grad();
        loss_backward(&b, &d, i);
        opt_b.step();
    }
    // The comparison means something only if the steps moved the parameters.
    let moved = (vs_a.variables()["l1.weight"].to_kind(Kind::Double) - &init).abs().max().double_value(&[]);
    assert!(moved > 1e-2, "the optimizer barely moved the parameters ({moved})");
    rel_diff(&vs_a, &vs_b)
}

#[test]
fn adam_matches_libtorch() {
    let _rng = rng_lock();
    for (kind, tol) in [(Kind::Float, 1e-6), (Kind::Double, 1e-14)] {
        for wd in [0.0, 0.05] {
            let rel = against_tch(
                kind,
                &mut |vs| {
                    Box::new(
                        Adam::new(vs, AdamConfig { lr: 0.02, weight_decay: wd, ..Default::default() })
                            .unwrap(),
                    )
                },
                &|vs| nn::Adam { wd, ..Default::default() }.build(vs, 0.02).unwrap(),
                0.02,
            );
            eprintln!("adam {kind:?} wd {wd}: relative difference to libtorch {rel:e}");
            assert!(rel < tol, "{kind:?} wd {wd}: relative difference {rel:e}");
        }
    }
}

#[test]
fn sgd_matches_libtorch() {
    let _rng = rng_lock();
    let configs =
        [(0.9, 0.0, 0.0, false), (0.9, 0.1, 0.0, false), (0.9, 0.0, 1e-3, true), (0.0, 0.0, 0.0, false)];
    for (kind, tol) in [(Kind::Float, 1e-6), (Kind::Double, 1e-14)] {
        for (momentum, dampening, wd, nesterov) in configs {
            let cfg = SgdConfig { lr: 0.05, momentum, dampening, weight_decay: wd, nesterov };
            let rel = against_tch(
                kind,
                &mut |vs| Box::new(Sgd::new(vs, cfg).unwrap()),
                &|vs| nn::Sgd { momentum, dampening, wd, nesterov }.build(vs, 0.05).unwrap(),
                0.05,
            );
            eprintln!("sgd {kind:?} {cfg:?}: relative difference to libtorch {rel:e}");
            assert!(rel < tol, "{kind:?} {cfg:?}: relative difference {rel:e}");
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    model: String,
    step: usize,
}

fn run_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ode-models-optim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

type MakeOpt = fn(&nn::VarStore) -> Box<dyn Optimizer>;

fn adam(vs: &nn::VarStore) -> Box<dyn Optimizer> {
    Box::new(Adam::new(vs, AdamConfig { lr: 0.02, weight_decay: 1e-3, ..Default::default() }).unwrap())
}

fn sgd(vs: &nn::VarStore) -> Box<dyn Optimizer> {
    Box::new(Sgd::new(vs, SgdConfig { lr: 0.05, momentum: 0.9, ..Default::default() }).unwrap())
}

/// Steps `steps` of a run whose rate starts at 0.03 (and halves after ten steps).
fn train(
    model: &nn::Sequential,
    opt: &mut dyn Optimizer,
    d: &(Tensor, Tensor),
    steps: std::ops::Range<usize>,
) {
    for i in steps {
        opt.set_lr(lr_at(0.03, i)).unwrap();
        opt.zero_grad();
        loss_backward(model, d, i);
        opt.step().unwrap();
    }
}

#[test]
fn resume_through_a_checkpoint_is_bitwise_the_uninterrupted_run() {
    let _rng = rng_lock();
    tch::set_num_threads(1);
    for (name, make) in [("adam", adam as MakeOpt), ("sgd", sgd as MakeOpt)] {
        let d = data(Kind::Float);
        let k = 12;
        let vs_straight = nn::VarStore::new(CPU);
        let straight = net(&vs_straight, 1);
        let mut opt = make(&vs_straight);
        train(&straight, &mut *opt, &d, 0..2 * k);

        let dir = run_dir(name);
        let store = CheckpointStore::new(&dir, "iter", 6);
        {
            let vs = nn::VarStore::new(CPU);
            let first = net(&vs, 1);
            let mut opt = make(&vs);
            train(&first, &mut *opt, &d, 0..k);
            store.save_with_optimizer(&vs, &*opt, k, &Meta { model: "net".into(), step: k }, 2).unwrap();
        }
        // A fresh model (other initial weights) and optimizer.
        let mut vs = nn::VarStore::new(CPU);
        let resumed = net(&vs, 7);
        let mut opt = make(&vs);
        let (meta, restore) = store
            .load_latest_with_optimizer(&mut vs, &mut *opt, "net", |m: &Meta| &m.model)
            .unwrap()
            .unwrap();
        assert_eq!((meta.step, restore), (k, OptimizerRestore::Restored));
        train(&resumed, &mut *opt, &d, k..2 * k);
        assert!(
            bitwise_equal(&vs, &vs_straight),
            "{name}: resumed run differs by {:e}",
            rel_diff(&vs, &vs_straight)
        );

        // Control: the same weights with a fresh optimizer do not give the same run.
        let mut vs = nn::VarStore::new(CPU);
        let weights_only = net(&vs, 7);
        let mut opt = make(&vs);
        let _: Option<Meta> = store.load_latest(&mut vs, "net", |m: &Meta| &m.model).unwrap();
        train(&weights_only, &mut *opt, &d, k..2 * k);
        assert!(rel_diff(&vs, &vs_straight) > 1e-4, "{name}: optimizer state made no difference");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn state_follows_the_variables_dtype() {
    let _rng = rng_lock();
    let mut vs = nn::VarStore::new(CPU);
    let m = net(&vs, 1);
    vs.double();
    let mut opt = adam(&vs);
    train(&m, &mut *opt, &data(Kind::Double), 0..2);
    let state = opt.state_tensors().unwrap();
    // Four variables: a step count each, two moments each.
    assert_eq!(state.len(), 12);
    for (name, t) in &state {
        let want = if name.contains(".step.") { Kind::Int64 } else { Kind::Double };
        assert_eq!(t.kind(), want, "{name}");
    }
    assert!(state.iter().any(|(n, t)| n == "optim.adam.step.l1.weight" && t.int64_value(&[]) == 2));
}

type State = HashMap<String, Tensor>;
type Check = fn(&OptimError) -> bool;

/// Adam's state after two steps, as a name -> tensor map.
fn adam_state() -> (nn::VarStore, Box<dyn Optimizer>, HashMap<String, Tensor>) {
    let vs = nn::VarStore::new(CPU);
    let m = net(&vs, 1);
    let mut opt = adam(&vs);
    train(&m, &mut *opt, &data(Kind::Float), 0..2);
    let state: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
    (vs, opt, state)
}

fn snapshot(opt: &dyn Optimizer) -> Vec<(String, Tensor)> {
    let mut s: Vec<(String, Tensor)> =
        opt.state_tensors().unwrap().into_iter().map(|(n, t)| (n, t.copy())).collect();
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

#[test]
fn bad_state_is_a_typed_error_and_changes_nothing() {
    let _rng = rng_lock();
    let (vs, _, good) = adam_state();
    let mut opt = adam(&vs);
    opt.load_state(&good).unwrap();
    let before = snapshot(&*opt);
    let with = |f: &dyn Fn(&mut HashMap<String, Tensor>)| {
        let mut s: HashMap<String, Tensor> =
            good.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        f(&mut s);
        s
    };
    let m = "optim.adam.exp_avg.l2.bias";
    let cases: Vec<(State, Check)> = vec![
        (HashMap::new(), |e| matches!(e, OptimError::NoState)),
        (
            with(&|s| {
                s.remove(m);
            }),
            |e| matches!(e, OptimError::MissingState(n) if n == "optim.adam.exp_avg.l2.bias"),
        ),
        (
            with(&|s| {
                s.remove("optim.adam.step.l1.bias");
            }),
            |e| matches!(e, OptimError::MissingState(_)),
        ),
        (
            with(&|s| {
                s.insert(m.into(), Tensor::zeros([3], (Kind::Float, CPU)));
            }),
            |e| matches!(e, OptimError::ShapeMismatch { found, .. } if found == &[3]),
        ),
        (
            with(&|s| {
                s.insert(m.into(), Tensor::full([2], f64::NAN, (Kind::Float, CPU)));
            }),
            |e| matches!(e, OptimError::Corrupt { .. }),
        ),
        (
            with(&|s| {
                s.insert("optim.adam.step.l1.bias".into(), Tensor::from(2.5f32));
            }),
            |e| matches!(e, OptimError::Corrupt { .. }),
        ),
        (
            with(&|s| {
                s.insert("optim.adam.exp_avg.l3.weight".into(), Tensor::zeros([1], (Kind::Float, CPU)));
            }),
            |e| matches!(e, OptimError::UnexpectedState(_)),
        ),
        (
            with(&|s| {
                s.insert("optim.sgd.step.l1.bias".into(), Tensor::from(1i64));
            }),
            |e| matches!(e, OptimError::KindMismatch { .. }),
        ),
    ];
    for (i, (state, expected)) in cases.into_iter().enumerate() {
        let err = opt.load_state(&state).unwrap_err();
        assert!(expected(&err), "case {i}: {err}");
        let after = snapshot(&*opt);
        assert!(
            before.iter().zip(&after).all(|(a, b)| a.0 == b.0 && a.1.equal(&b.1)),
            "case {i} changed the state"
        );
    }
    // SGD refuses Adam's state.
    let mut sgd_opt = sgd(&vs);
    assert!(matches!(sgd_opt.load_state(&good), Err(OptimError::KindMismatch { expected: "sgd", .. })));
}

#[test]
fn checkpoints_without_or_with_foreign_state() {
    let _rng = rng_lock();
    let dir = run_dir("foreign");
    let store = CheckpointStore::new(&dir, "iter", 6);
    let (vs, adam_opt, _) = adam_state();
    // A checkpoint written before optimizers were saved: weights load, the
    // optimizer starts afresh, and the caller is told.
    store.save(&vs, 1, &Meta { model: "net".into(), step: 1 }, 5).unwrap();
    let mut fresh_vs = nn::VarStore::new(CPU);
    let _m = net(&fresh_vs, 3);
    let mut opt = adam(&fresh_vs);
    let (_, restore) = store
        .load_latest_with_optimizer(&mut fresh_vs, &mut *opt, "net", |m: &Meta| &m.model)
        .unwrap()
        .unwrap();
    assert_eq!(restore, OptimizerRestore::Absent);
    assert!(bitwise_equal(&fresh_vs, &vs));
    assert!(snapshot(&*opt).iter().all(|(n, t)| !n.contains(".step.") || t.int64_value(&[]) == 0));

    // Adam's state into SGD: an error naming the file.
    store.save_with_optimizer(&vs, &*adam_opt, 2, &Meta { model: "net".into(), step: 2 }, 5).unwrap();
    let mut sgd_opt = sgd(&fresh_vs);
    let err = store
        .load_latest_with_optimizer(&mut fresh_vs, &mut *sgd_opt, "net", |m: &Meta| &m.model)
        .unwrap_err();
    assert!(
        matches!(&err, TrainError::OptimizerState { path, source: OptimError::KindMismatch { .. } } if path.ends_with("iter-000002.safetensors")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_settings_and_gradients_are_typed_errors() {
    let _rng = rng_lock();
    let vs = nn::VarStore::new(CPU);
    let m = net(&vs, 1);
    let arg =
        |r: Result<Box<dyn Optimizer>, OptimError>| matches!(r, Err(OptimError::InvalidArgument { .. }));
    let boxed_adam = |c: AdamConfig| Adam::new(&vs, c).map(|o| Box::new(o) as Box<dyn Optimizer>);
    let boxed_sgd = |c: SgdConfig| Sgd::new(&vs, c).map(|o| Box::new(o) as Box<dyn Optimizer>);
    assert!(arg(boxed_adam(AdamConfig { lr: f64::NAN, ..Default::default() })));
    assert!(arg(boxed_adam(AdamConfig { beta1: 1.0, ..Default::default() })));
    assert!(arg(boxed_adam(AdamConfig { eps: -1.0, ..Default::default() })));
    assert!(arg(boxed_sgd(SgdConfig { momentum: -0.5, ..Default::default() })));
    assert!(arg(boxed_sgd(SgdConfig { nesterov: true, ..Default::default() })));
    assert!(matches!(
        Adam::new(&nn::VarStore::new(CPU), AdamConfig::default()),
        Err(OptimError::NoParameters)
    ));

    let mut opt = adam(&vs);
    assert!(matches!(opt.set_lr(-1.0), Err(OptimError::InvalidArgument { name: "lr", .. })));
    assert_eq!(opt.lr(), 0.02, "a refused rate leaves the old one");
    // A NaN gradient: refused, nothing moves.
    let before: Vec<Tensor> = vs.trainable_variables().iter().map(|t| t.copy()).collect();
    opt.zero_grad();
    let x = Tensor::full([1, 4], f64::NAN, (Kind::Float, CPU));
    m.forward(&x).sum(Kind::Float).backward();
    let err = opt.step().unwrap_err();
    assert!(matches!(&err, OptimError::NonFiniteGradient(n) if n.starts_with("l")), "{err}");
    assert!(vs.trainable_variables().iter().zip(&before).all(|(a, b)| a.equal(b)));
    assert!(snapshot(&*opt).iter().all(|(n, t)| !n.contains(".step.") || t.int64_value(&[]) == 0));
}
