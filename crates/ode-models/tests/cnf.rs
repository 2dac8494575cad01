//! CNF, planar flow and toy data: traces, densities, inverses, training,
//! and a resumed training run that is bitwise the uninterrupted one.

use ode_models::checkpoint::OptimizerRestore;
use ode_models::cnf::run::{load_latest_checkpoint, save_checkpoint, IterCheckpoint};
use ode_models::cnf::{
    exact_trace, hutchinson_trace, sample_noise, standard_normal_log_density, Cnf, CnfConfig, CnfDynamics,
    CnfError, Flow, GaussianMixture, Noise, Objective, PlanarDirection, PlanarFlow, Target, ToyRng, ToySet,
    TraceMethod,
};
use ode_models::optim::{Adam, AdamConfig};
use ode_models::GradMode;
use tch::nn;
use tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

fn dynamics(vs: &nn::VarStore, dim: i64, width: i64, scale: f64) -> CnfDynamics {
    let d = CnfDynamics::new(&vs.root(), CnfConfig::new(dim, width)).unwrap();
    // Weights from our own seeded generator (torch's is shared by the tests
    // running in parallel): N(0, scale^2 / fan_in), so the flow is
    // deterministic and, with scale > 1, far from the identity.
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rng = ToyRng::new(dim as u64 * 1000 + width as u64);
    tch::no_grad(|| {
        for (_, v) in vars {
            let size = v.size();
            let fan_in = if size.len() == 2 { size[1] } else { 4 } as f64;
            let vals: Vec<f32> =
                (0..v.numel()).map(|_| (scale * rng.normal() / fan_in.sqrt()) as f32).collect();
            v.shallow_clone().copy_(&Tensor::from_slice(&vals).view(size.as_slice()));
        }
    });
    d
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
}

#[test]
fn exact_trace_matches_the_jacobian_by_finite_differences_and_closed_form() {
    tch::manual_seed(1);
    let vs = nn::VarStore::new(CPU);
    let dim = 4;
    let f = dynamics(&vs, dim, 8, 2.0);
    let z = Tensor::randn([5, dim], (Kind::Float, CPU)).set_requires_grad(true);
    let t = 0.3;
    let tr = exact_trace(&f.velocity(t, &z), &z, false).unwrap();
    // Central differences of f in float64 arithmetic on float32 inputs: the
    // trace of the full Jacobian, column by column.
    let h = 1e-2;
    let zd = z.detach();
    let mut fd = Tensor::zeros([5], (Kind::Float, CPU));
    for j in 0..dim {
        let e = Tensor::zeros([1, dim], (Kind::Float, CPU));
        let _ = e.narrow(1, j, 1).fill_(h);
        let df = (f.velocity(t, &(&zd + &e)) - f.velocity(t, &(&zd - &e))) / (2.0 * h);
        fd = fd.g_add(&df.select(1, j).detach());
    }
    let closed = f.analytic_trace(t, &zd).detach();
    assert!(max_abs(&(closed.abs())) > 0.1, "the test needs a non-trivial trace");
    assert!(max_abs(&(&tr - &closed)) < 1e-4, "autograd {tr:?} vs closed form {closed:?}");
    // Finite differences of float32: O(h^2) truncation plus O(eps / h) round-off.
    assert!(max_abs(&(&tr - &fd)) < 2e-2 * (1.0 + max_abs(&closed)), "autograd {tr:?} vs FD {fd:?}");
}

#[test]
fn hutchinson_estimate_is_unbiased() {
    tch::manual_seed(2);
    let vs = nn::VarStore::new(CPU);
    let dim = 6;
    let f = dynamics(&vs, dim, 16, 2.0);
    let z1 = Tensor::randn([1, dim], (Kind::Float, CPU));
    let exact = f.analytic_trace(0.5, &z1).double_value(&[0]);
    let n = 20_000;
    for noise in [Noise::Rademacher, Noise::Gaussian] {
        let z = z1.expand([n, dim], false).contiguous().set_requires_grad(true);
        let e = sample_noise(noise, &z);
        let est = hutchinson_trace(&f.velocity(0.5, &z), &z, &e, false).unwrap().to_kind(Kind::Double);
        let mean = est.mean(Kind::Double).double_value(&[]);
        let se = est.std(true).double_value(&[]) / (n as f64).sqrt();
        assert!(se > 0.0, "{noise:?}: the estimator should vary between draws");
        // 5 standard errors: a false failure has probability below 1e-6.
        assert!((mean - exact).abs() < 5.0 * se, "{noise:?}: mean {mean} vs exact {exact} (se {se})");
    }
}

#[test]
fn cnf_density_integrates_to_one_on_a_grid() {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(CPU);
    let mut cnf = Cnf::new(dynamics(&vs, 2, 8, 1.0), TraceMethod::Exact);
    cnf.opts = cnf.opts.clone().tol(1e-6, 1e-6);
    let (n, l) = (121i64, 7.0);
    let ax = Tensor::linspace(-l, l, n, (Kind::Float, CPU));
    let grid = Tensor::stack(&[ax.repeat_interleave_self_int(n, 0, None), ax.repeat([n])], 1);
    let out = cnf.log_density(&grid, false).unwrap();
    let q = out.log_q.exp().view([n, n]).to_kind(Kind::Double);
    let h = 2.0 * l / (n - 1) as f64;
    let trap = |v: &Tensor| {
        let s = v.sum_dim_intlist(&[-1i64][..], false, Kind::Double);
        (s - (v.select(-1, 0) + v.select(-1, n - 1)) * 0.5) * h
    };
    let mass = trap(&trap(&q)).double_value(&[]);
    // Trapezoid error on this grid and the mass outside [-7, 7]^2 are far below 2e-3.
    assert!((mass - 1.0).abs() < 2e-3, "mass {mass}");
    // The flow must actually move the density away from the base.
    let base = ode_models::cnf::standard_normal_log_density(&grid).exp();
    let moved = max_abs(&(out.log_q.exp() - base));
    assert!(moved > 0.01, "the density is still the base (max diff {moved})");
}

#[test]
fn sampling_and_density_evaluation_are_inverse() {
    tch::manual_seed(4);
    let vs = nn::VarStore::new(CPU);
    for trace in [TraceMethod::Exact, TraceMethod::ClosedForm, TraceMethod::Hutchinson(Noise::Rademacher)] {
        let mut cnf = Cnf::new(dynamics(&vs, 2, 8, 1.0), trace);
        cnf.opts = cnf.opts.clone().tol(1e-7, 1e-7);
        let z0 = Tensor::randn([64, 2], (Kind::Float, CPU));
        let fwd = cnf.sample_from(&z0, false).unwrap();
        assert!(max_abs(&(&fwd.z - &z0)) > 0.1, "the flow should move the points");
        let back = cnf.log_density(&fwd.z, false).unwrap();
        assert!(max_abs(&(&back.z - &z0)) < 1e-3, "round trip error {}", max_abs(&(&back.z - &z0)));
        if trace != TraceMethod::Hutchinson(Noise::Rademacher) {
            assert!(max_abs(&(&back.log_q - &fwd.log_q)) < 1e-3);
        }
        assert!(fwd.nfe > 0 && back.nfe > 0);
    }
}

#[test]
fn planar_log_det_matches_autograd_jacobian() {
    tch::manual_seed(5);
    let vs = nn::VarStore::new(CPU);
    let dim = 3;
    let flow = PlanarFlow::new(&vs.root(), dim, 4, PlanarDirection::Generative).unwrap();
    tch::no_grad(|| {
        for v in vs.trainable_variables() {
            let _ = v.shallow_clone().f_mul_scalar_(10.0).unwrap();
        }
    });
    for _ in 0..5 {
        let z = Tensor::randn([1, dim], (Kind::Double, CPU)).to_kind(Kind::Float).set_requires_grad(true);
        let (x, logdet) = flow.transform(&z).unwrap();
        let rows: Vec<Tensor> = (0..dim)
            .map(|i| {
                Tensor::run_backward(&[x.select(1, i).sum(Kind::Float)], &[&z], true, false)[0].view([dim])
            })
            .collect();
        let jac = Tensor::stack(&rows, 0).to_kind(Kind::Double);
        let want = jac.det().abs().log().double_value(&[]);
        let got = logdet.double_value(&[0]);
        assert!((got - want).abs() < 1e-4 * (1.0 + want.abs()), "log det {got} vs autograd {want}");
    }
}

#[test]
fn planar_layers_with_zero_u_are_the_identity() {
    // The shifted correction has m(0) = 0; Rezende & Mohamed's m(0) = -0.31
    // would contract every layer even with u = 0.
    let vs = nn::VarStore::new(CPU);
    let flow = PlanarFlow::new(&vs.root(), 2, 5, PlanarDirection::Generative).unwrap();
    tch::no_grad(|| {
        for (name, v) in vs.variables() {
            if name.ends_with(".u") {
                let _ = v.shallow_clone().zero_();
            }
        }
    });
    let z = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 0.25]).view([2, 2]);
    let (x, logdet) = flow.transform(&z).unwrap();
    assert!(max_abs(&(&x - &z)) < 1e-6 && max_abs(&logdet) < 1e-6);
}

#[test]
fn training_steps_reduce_the_loss() {
    // CNF, maximum likelihood on a fixed batch of moons (exact trace: deterministic loss).
    tch::manual_seed(6);
    let vs = nn::VarStore::new(CPU);
    let mut cnf = Cnf::new(CnfDynamics::new(&vs.root(), CnfConfig::new(2, 16)).unwrap(), TraceMethod::Exact);
    cnf.opts = cnf.opts.clone().tol(1e-3, 1e-3);
    let flow = Flow::Cnf(Box::new(cnf));
    let data = ToySet::Moons.sample(128, 0, CPU);
    let mut opt = Adam::new(&vs, AdamConfig { lr: 3e-2, ..Default::default() }).unwrap();
    let obj = Objective::MaxLikelihood;
    let before = obj.loss(&flow, Some(&data), CPU).unwrap().0.double_value(&[]);
    for _ in 0..15 {
        obj.step(&flow, &mut opt, Some(&data), CPU).unwrap();
    }
    let after = obj.loss(&flow, Some(&data), CPU).unwrap().0.double_value(&[]);
    // Measured: about 5.0 -> 3.1.
    assert!(after < before - 0.5, "CNF NLL {before} -> {after}");

    // Planar flow, density matching with the same base draws before and after.
    let vs = nn::VarStore::new(CPU);
    let flow = Flow::Planar(PlanarFlow::new(&vs.root(), 2, 8, PlanarDirection::Generative).unwrap());
    let mut opt = Adam::new(&vs, AdamConfig { lr: 2e-2, ..Default::default() }).unwrap();
    let obj = Objective::DensityMatching { target: Target::TwoMoons, batch: 256 };
    // The same base draws before and after, from our own generator (torch's
    // is shared with the tests running in parallel).
    let mut rng = ToyRng::new(99);
    let draws: Vec<f32> = (0..2 * 2048).map(|_| rng.normal() as f32).collect();
    let z0 = Tensor::from_slice(&draws).view([2048, 2]);
    let eval = |flow: &Flow| {
        let Flow::Planar(p) = flow else { unreachable!("a planar flow") };
        let out = p.sample_from(&z0).unwrap();
        (&out.log_q - Target::TwoMoons.log_density(&out.z).unwrap()).mean(Kind::Float).double_value(&[])
    };
    let before = eval(&flow);
    for _ in 0..60 {
        obj.step(&flow, &mut opt, None, CPU).unwrap();
    }
    let after = eval(&flow);
    // Measured: about 9.0 -> -0.5.
    assert!(after < before - 1.0, "planar KL {before} -> {after}");
}

#[test]
fn toy_samplers_are_deterministic_and_shaped() {
    for set in ToySet::ALL {
        let a = set.sample_points(500, 7);
        assert_eq!(a.len(), 500, "{set:?}");
        assert_eq!(a, set.sample_points(500, 7), "{set:?} not deterministic");
        assert_ne!(a, set.sample_points(500, 8), "{set:?} ignores the seed");
        assert!(a.iter().all(|p| p[0].is_finite() && p[1].abs() < 10.0 && p[0].abs() < 10.0), "{set:?}");
        assert_eq!(set.name().parse::<ToySet>().unwrap(), set);
    }
    // Circles: radii 3 and 1.5 (noise 0.24), half of the points on each.
    let radii: Vec<f64> = ToySet::Circles.sample_points(2000, 1).iter().map(|p| p[0].hypot(p[1])).collect();
    let outer = radii.iter().filter(|&&r| r > 2.25).count();
    assert!((900..=1100).contains(&outer), "outer {outer}");
    let g = GaussianMixture::new(16, 4, 3).unwrap();
    let x = g.sample(300, 5, CPU);
    assert_eq!(x.size(), [300, 16]);
    assert!(x.equal(&g.sample(300, 5, CPU)));
}

#[test]
fn bad_arguments_give_typed_errors() {
    let vs = nn::VarStore::new(CPU);
    let root = vs.root();
    assert!(matches!(CnfDynamics::new(&root, CnfConfig::new(2, 0)), Err(CnfError::ZeroWidth)));
    assert!(matches!(CnfDynamics::new(&root, CnfConfig::new(0, 4)), Err(CnfError::ZeroDim)));
    assert!(matches!(PlanarFlow::new(&root, 2, 0, PlanarDirection::Generative), Err(CnfError::ZeroLayers)));
    assert!(matches!(PlanarFlow::new(&root, 0, 3, PlanarDirection::Generative), Err(CnfError::ZeroDim)));
    assert!(matches!(GaussianMixture::new(0, 2, 0), Err(CnfError::ZeroDim)));
    let cnf = Cnf::new(CnfDynamics::new(&root, CnfConfig::new(2, 4)).unwrap(), TraceMethod::Exact);
    let wrong = Tensor::zeros([4, 3], (Kind::Float, CPU));
    assert!(matches!(cnf.log_density(&wrong, false), Err(CnfError::Shape { .. })));
    assert!(matches!(
        cnf.log_density(&Tensor::zeros([4], (Kind::Float, CPU)), false),
        Err(CnfError::Shape { .. })
    ));
    let nan = Tensor::full([2, 2], f64::NAN, (Kind::Float, CPU));
    assert!(matches!(cnf.log_density(&nan, false), Err(CnfError::NonFinite(_))));
    assert!(matches!(Target::Ring.log_density(&wrong), Err(CnfError::Shape { .. })));
    let gen = PlanarFlow::new(&root, 2, 2, PlanarDirection::Generative).unwrap();
    assert!(matches!(gen.log_density(&nan), Err(CnfError::Unsupported(_))));
    assert!("nope".parse::<ToySet>().is_err() && "nope".parse::<Target>().is_err());
    assert!("nope".parse::<TraceMethod>().is_err());
    assert_eq!(
        "hutchinson-gaussian".parse::<TraceMethod>().unwrap(),
        TraceMethod::Hutchinson(Noise::Gaussian)
    );
    let flow = Flow::Cnf(Box::new(cnf));
    let obj = Objective::MaxLikelihood;
    assert!(matches!(obj.loss(&flow, None, CPU), Err(CnfError::Arg(_))));
}

#[test]
fn adjoint_gradient_through_ode_block_matches_direct_backprop() {
    let vs = nn::VarStore::new(CPU);
    let mut cnf = Cnf::new(dynamics(&vs, 2, 8, 1.0), TraceMethod::Exact);
    cnf.opts = cnf.opts.clone().tol(1e-7, 1e-7);
    let x = ToySet::Moons.sample(64, 3, CPU);
    let params = vs.trainable_variables();
    let grads = |fill: &dyn Fn() -> f64| -> (f64, Vec<Tensor>) {
        for p in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        let loss = fill();
        (loss, params.iter().map(|p| p.grad().copy()).collect())
    };
    let (direct_loss, direct) = grads(&|| {
        let loss = -cnf.log_density(&x, true).unwrap().log_q.mean(Kind::Float);
        loss.backward();
        loss.double_value(&[])
    });
    let (adj_loss, adjoint) = grads(&|| {
        cnf.nll_backward_block(&x, vs.trainable_variables(), GradMode::Adjoint(Default::default())).unwrap().0
    });
    assert!((direct_loss - adj_loss).abs() < 1e-4, "loss {direct_loss} vs {adj_loss}");
    let num: f64 =
        direct.iter().zip(&adjoint).map(|(a, b)| (a - b).square().sum(Kind::Double).double_value(&[])).sum();
    let den: f64 = direct.iter().map(|a| a.square().sum(Kind::Double).double_value(&[])).sum();
    assert!(den > 0.0);
    // Both are gradients of the same loss up to the solver tolerance.
    assert!((num / den).sqrt() < 1e-2, "relative gradient difference {}", (num / den).sqrt());
}

#[test]
fn closed_form_trace_trains_like_the_autograd_exact_trace() {
    let vs = nn::VarStore::new(CPU);
    let x = ToySet::Circles.sample(64, 5, CPU);
    let mut cnf = Cnf::new(dynamics(&vs, 2, 8, 1.5), TraceMethod::Exact);
    cnf.opts = cnf.opts.clone().tol(1e-7, 1e-7);
    let params = vs.trainable_variables();
    let mut run = |trace: TraceMethod, block: bool| -> (f64, Vec<Tensor>) {
        cnf.trace = trace;
        for p in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        let loss = if block {
            cnf.nll_backward_block(&x, vs.trainable_variables(), GradMode::Adjoint(Default::default()))
                .unwrap()
                .0
        } else {
            let loss = -cnf.log_density(&x, true).unwrap().log_q.mean(Kind::Float);
            loss.backward();
            loss.double_value(&[])
        };
        (loss, params.iter().map(|p| p.grad().copy()).collect())
    };
    let rel = |a: &[Tensor], b: &[Tensor]| -> f64 {
        let num: f64 =
            a.iter().zip(b).map(|(a, b)| (a - b).square().sum(Kind::Double).double_value(&[])).sum();
        let den: f64 = a.iter().map(|a| a.square().sum(Kind::Double).double_value(&[])).sum();
        assert!(den > 0.0);
        (num / den).sqrt()
    };
    let (l_exact, g_exact) = run(TraceMethod::Exact, false);
    let (l_closed, g_closed) = run(TraceMethod::ClosedForm, false);
    // Same function, same steps: only f32 rounding separates them.
    assert!((l_exact - l_closed).abs() < 1e-5 * l_exact.abs().max(1.0), "loss {l_exact} vs {l_closed}");
    assert!(rel(&g_exact, &g_closed) < 1e-4, "direct gradients differ by {}", rel(&g_exact, &g_closed));
    // Through OdeBlock's adjoint (the VJP differentiates through the closed form).
    let (l_adj, g_adj) = run(TraceMethod::ClosedForm, true);
    assert!((l_exact - l_adj).abs() < 1e-4, "loss {l_exact} vs adjoint {l_adj}");
    assert!(rel(&g_exact, &g_adj) < 1e-2, "adjoint gradients differ by {}", rel(&g_exact, &g_adj));
    // The gradient is not trivially equal across traces because it is zero:
    // dropping the trace term changes it.
    let trace_grad: f64 = g_closed.iter().map(|g| g.abs().sum(Kind::Double).double_value(&[])).sum();
    assert!(trace_grad > 1e-3);
}

#[test]
fn a_resumed_flow_run_is_bitwise_the_uninterrupted_one() {
    tch::set_num_threads(1);
    let make = || {
        let vs = nn::VarStore::new(CPU);
        let flow = Flow::Planar(PlanarFlow::new(&vs.root(), 2, 4, PlanarDirection::Normalizing).unwrap());
        (vs, flow)
    };
    let adam = |vs: &nn::VarStore| Adam::new(vs, AdamConfig { lr: 2e-2, ..Default::default() }).unwrap();
    // Maximum likelihood on batches from our own generator: no draw from
    // torch's (shared with the tests running in parallel).
    let train = |flow: &Flow, opt: &mut Adam, iters: std::ops::Range<usize>| {
        for it in iters {
            let x = ToySet::Moons.sample(64, it as u64, CPU);
            Objective::MaxLikelihood.step(flow, opt, Some(&x), CPU).unwrap();
        }
    };
    let (init, _) = make();
    let (mut vs, flow) = make();
    vs.copy(&init).unwrap();
    let mut opt = adam(&vs);
    train(&flow, &mut opt, 0..10);
    let straight = vs;

    let dir = std::env::temp_dir().join(format!("cnf-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let (mut vs, flow) = make();
        vs.copy(&init).unwrap();
        let mut opt = adam(&vs);
        train(&flow, &mut opt, 0..5);
        let meta = IterCheckpoint { model: "planar".into(), iter: 5, history: Vec::new() };
        save_checkpoint(&vs, &opt, &dir, &meta, 2).unwrap();
    }
    let (mut vs, flow) = make();
    let mut opt = adam(&vs);
    let (meta, restore) = load_latest_checkpoint(&mut vs, &mut opt, &dir, "planar").unwrap().unwrap();
    assert_eq!((meta.iter, restore), (5, OptimizerRestore::Restored));
    train(&flow, &mut opt, 5..10);
    let (a, b) = (vs.variables(), straight.variables());
    assert!(!a.is_empty() && a.iter().all(|(n, t)| t.equal(&b[n])), "the resumed run differs");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `Cnf::integrate` gets each Runge-Kutta step's hypernetwork parameters
/// from one batched pass over its stage times (`ode_core::Rhs::stage_times`).
/// The parameters are those of one time at a time, and the flow is the one
/// solved through a plain closure (no batching), up to rounding.
#[test]
fn stage_batched_hypernetwork_gives_the_same_flow() {
    let vs = nn::VarStore::new(CPU);
    let cnf = Cnf::new(dynamics(&vs, 2, 16, 1.5), TraceMethod::ClosedForm);
    let like = Tensor::zeros([1, 2], (Kind::Float, CPU));
    let ts = [0.0, 0.2, 0.55, 1.0];
    let batched = cnf.dynamics.unit_params_at(&ts, &like);
    assert_eq!(batched.len(), ts.len());
    for (&t, p) in ts.iter().zip(&batched) {
        let q = cnf.dynamics.unit_params(t, &like);
        for (a, b) in [(&p.w, &q.w), (&p.u, &q.u), (&p.b, &q.b)] {
            assert_eq!(a.size(), b.size());
            assert!(max_abs(&(a - b)) <= 1e-6 * (1.0 + max_abs(b)), "t = {t}");
        }
    }
    // The parameters change with t (otherwise the comparison says little).
    assert!(max_abs(&(&batched[0].w - &batched[3].w)) > 1e-3);

    for trace in [TraceMethod::ClosedForm, TraceMethod::Exact] {
        let vs = nn::VarStore::new(CPU);
        let cnf = Cnf::new(dynamics(&vs, 2, 16, 1.5), trace);
        let x = ToySet::Moons.sample(128, 4, CPU);
        let out = cnf.log_density(&x, false).unwrap();
        let f = cnf.augmented_rhs(None, Vec::new());
        let y0 = Tensor::cat(&[x.shallow_clone(), Tensor::zeros([128, 1], (Kind::Float, CPU))], 1);
        let sol = ode_core::solve(&f, y0, &[cnf.t1, 0.0], &cnf.opts).unwrap();
        let y = &sol.ys[1];
        let log_q = standard_normal_log_density(&y.narrow(1, 0, 2)) - y.select(1, 2);
        assert!(max_abs(&(&out.log_q - &log_q)) < 1e-4, "{trace:?}: {}", max_abs(&(&out.log_q - &log_q)));
        assert!(max_abs(&(&out.z - y.narrow(1, 0, 2))) < 1e-4, "{trace:?}");
        assert!(out.nfe > 20, "{trace:?}: {} evaluations", out.nfe);
    }
}
