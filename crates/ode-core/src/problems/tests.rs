//! The problems' exact solutions, special functions and random matrices.

use super::*;

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn splitmix_is_deterministic_and_normal() {
    let a: Vec<u64> = {
        let mut r = SplitMix64::new(7);
        (0..5).map(|_| r.next_u64()).collect()
    };
    let b: Vec<u64> = {
        let mut r = SplitMix64::new(7);
        (0..5).map(|_| r.next_u64()).collect()
    };
    assert_eq!(a, b);
    // Reference value of SplitMix64 seeded with 0 (Vigna's C code).
    assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    let mut r = SplitMix64::new(42);
    let n = 200_000;
    let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.02, "var {var}");
    assert!(xs.iter().all(|x| x.is_finite()));
    let u: Vec<f64> = (0..1000).map(|_| r.uniform()).collect();
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
}

#[test]
fn expm_of_diagonal_and_nilpotent() {
    let d = Array2::from_diag(&array![0.0, 1.0, -3.0, 7.5]);
    let e = expm(&d);
    for i in 0..4 {
        assert!((e[[i, i]] - d[[i, i]].exp()).abs() <= 1e-14 * d[[i, i]].exp());
    }
    assert!((e.sum() - e.diag().sum()).abs() == 0.0);
    // Nilpotent: exp(N) = I + N + N^2/2.
    let n = array![[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]];
    let exact = Array2::eye(3) + &n + n.dot(&n) / 2.0;
    assert!(max_abs_diff(&expm(&n), &exact) < 1e-14);
    assert_eq!(expm(&Array2::<f64>::zeros((3, 3))), Array2::<f64>::eye(3));
}

#[test]
fn expm_of_rotation_generator() {
    for &w in &[0.1f64, 1.0, 10.0, 100.0] {
        let a = array![[0.0, -w], [w, 0.0]];
        let (s, c) = w.sin_cos();
        let exact = array![[c, -s], [s, c]];
        assert!(max_abs_diff(&expm(&a), &exact) < 2e-15 * w.max(1.0), "w = {w}");
    }
}

#[test]
fn expm_properties_on_random_matrices() {
    for seed in 0..5 {
        // Skew-symmetric: exp is orthogonal.
        let a = skew_matrix(10, seed) * 10.0;
        let q = expm(&a);
        assert!(max_abs_diff(&q.t().dot(&q), &Array2::eye(10)) < 1e-13);
        // exp(A) exp(-A) = I and the group property.
        let b = normal_matrix(10, 10, 0.5, seed);
        let e = expm(&b);
        assert!(max_abs_diff(&e.dot(&expm(&-&b)), &Array2::eye(10)) < 1e-12);
        let e1 = expm(&(&b * 1.5));
        let e2 = expm(&(&b * 2.5));
        let e4 = expm(&(&b * 4.0));
        let rel = max_abs_diff(&e1.dot(&e2), &e4) / e4.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(rel < 1e-13, "rel {rel}");
        // Taylor sum with many terms for a small matrix.
        let small = &b * 0.01;
        let mut term = Array2::<f64>::eye(10);
        let mut sum = Array2::<f64>::eye(10);
        for k in 1..30 {
            term = term.dot(&small) / k as f64;
            sum += &term;
        }
        assert!(max_abs_diff(&expm(&small), &sum) < 1e-15);
    }
    assert!(expm(&array![[f64::NAN]])[[0, 0]].is_nan());
    assert_eq!(expm(&Array2::zeros((2, 3))).len(), 0);
}

#[test]
fn kepler_and_elliptic_functions() {
    for &e in &[0.0, 0.1, 0.5, 0.9, 0.99] {
        for i in 0..200 {
            let m = -10.0 + 0.137 * i as f64;
            let u = kepler_eccentric_anomaly(m, e);
            assert!((u - e * u.sin() - m).abs() < 1e-14 * m.abs().max(1.0), "e {e} m {m}");
        }
    }
    // sn^2 + cn^2 = 1, dn^2 + m sn^2 = 1, derivatives sn' = cn dn.
    let m = 0.51;
    for i in 0..100 {
        let u = 0.2 * i as f64 - 3.0;
        let (sn, cn, dn) = jacobi_sn_cn_dn(u, m);
        assert!((sn * sn + cn * cn - 1.0).abs() < 1e-14);
        assert!((dn * dn + m * sn * sn - 1.0).abs() < 1e-14);
        let h = 1e-5;
        let d = (jacobi_sn_cn_dn(u + h, m).0 - jacobi_sn_cn_dn(u - h, m).0) / (2.0 * h);
        assert!((d - cn * dn).abs() < 1e-9, "u {u}: {d} vs {}", cn * dn);
    }
    // Quarter period K(0.51) = 1.8624...: sn(K) = 1 (A&S table).
    let (sn, _, _) = jacobi_sn_cn_dn(0.5 * PI, 0.0);
    assert!((sn - 1.0).abs() < 1e-15);
}

/// Every exact solution satisfies its differential equation (central
/// differences) and its initial value.
#[test]
fn exact_solutions_satisfy_their_equations() {
    let mut probs = all(DEFAULT_SEED);
    probs.push(linear(3).reversed().unwrap());
    for p in probs.iter().filter(|p| p.has_exact()) {
        let y0 = p.exact_at(p.t0).unwrap();
        let scale = 1.0 + p.y0.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let d0 = (&y0 - &p.y0).iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(d0 < 1e-13 * scale, "{}: y0 differs from exact(t0) by {d0}", p.name);
        for i in 1..40 {
            let t = p.t0 + (p.t1 - p.t0) * i as f64 / 40.0;
            let h = 2e-5 * (p.t1 - p.t0).abs();
            let y = |k: f64| p.exact_at(t + k * h).unwrap();
            // Fourth-order central difference.
            let fd = (y(-2.0) - y(-1.0) * 8.0 + y(1.0) * 8.0 - y(2.0)) / (12.0 * h);
            let f = p.f(t, &p.exact_at(t).unwrap());
            let fscale = 1.0 + f.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let err = (&fd - &f).iter().fold(0.0f64, |m, x| m.max(x.abs())) / fscale;
            assert!(err < 1e-8, "{} at t = {t}: residual {err}", p.name);
        }
    }
}

#[test]
fn invariants_are_constant_on_exact_solutions() {
    for p in all(DEFAULT_SEED).iter().filter(|p| p.has_exact() && p.invariant.is_some()) {
        let inv = p.invariant.as_ref().unwrap();
        let i0 = inv(&p.y0);
        for i in 1..20 {
            let t = p.t0 + (p.t1 - p.t0) * i as f64 / 20.0;
            let it = inv(&p.exact_at(t).unwrap());
            assert!((it - i0).abs() < 1e-12 * (1.0 + i0.abs()), "{} at {t}: {it} vs {i0}", p.name);
        }
    }
}

#[test]
fn detest_catalogue() {
    let all = detest::all();
    assert_eq!(all.len(), 25);
    for (p, n) in all.iter().zip(detest::NAMES) {
        assert_eq!(p.name, n);
        assert_eq!((p.t0, p.t1), (0.0, 20.0));
        let f = p.f(0.0, &p.y0);
        assert_eq!(f.len(), p.dim());
        assert!(f.iter().all(|x| x.is_finite()), "{n}");
    }
    let with_exact: Vec<&str> = all.iter().filter(|p| p.has_exact()).map(|p| p.name.as_str()).collect();
    assert_eq!(
        with_exact,
        [
            "A1", "A2", "A3", "A4", "A5", "B2", "B4", "B5", "C1", "C2", "C3", "C4", "D1", "D2", "D3", "D4",
            "D5", "E1", "E4", "E5"
        ]
    );
    assert_eq!(detest::class('c').len(), 5);
    assert_eq!(detest::c4().dim(), 51);
    assert_eq!(detest::c5().dim(), 30);
    assert!(detest::by_name("F1").is_none());
    assert!(by_name("e3").is_some() && by_name("lorenz").is_some() && by_name("nope").is_none());
    // C1's closed form: y_i = t^(i-1) e^-t / (i-1)!.
    let p = detest::c1();
    let y = p.exact_at(3.0).unwrap();
    let mut fact = 1.0;
    for i in 0..9 {
        if i > 0 {
            fact *= i as f64;
        }
        let want = 3f64.powi(i) * (-3f64).exp() / fact;
        assert!((y[i as usize] - want).abs() < 1e-15, "C1 y{i}");
    }
    // E1's published initial values are J_1/2 at x = 1.
    let e1 = detest::e1();
    let d = &e1.exact_at(0.0).unwrap() - &e1.y0;
    assert!(d.iter().all(|x| x.abs() < 1e-15), "{d}");
}

#[test]
fn torchdiffeq_set_and_helpers() {
    let set = torchdiffeq_set(1);
    assert_eq!(set.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["constant", "sine", "linear"]);
    // Same seed, same matrix; another seed, another matrix.
    assert_eq!(linear(5).y0, linear(5).y0);
    assert_ne!(linear(5).y0, linear(6).y0);
    let a = skew_matrix(10, 9);
    assert_eq!(a, -a.t().to_owned());
    let r = sine().reversed().unwrap();
    assert_eq!((r.t0, r.t1), (8.0, 1.0));
    assert!(lorenz().reversed().is_none());
    let arn = arenstorf().reversed().unwrap();
    assert_eq!(arn.y0, arenstorf().y0);
    assert_eq!(linspace(1.0, 8.0, 10)[9], 8.0);
    assert_eq!(linspace(8.0, 1.0, 3), vec![8.0, 4.5, 1.0]);
    let c = convergence(3).with_span(0.0, 1.0).unwrap();
    assert_eq!(c.t1, 1.0);
    assert!(format!("{:?}", c).contains("convergence"));
}
