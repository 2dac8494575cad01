//! ode-core's solvers on `tch::Tensor` states agree with the ndarray ones.

use ode_core::tableau::{DOPRI5, TSIT5};
use ode_core::{solve, OdeState, SolveOptions};
use tch::{Device, Kind, Tensor};

#[test]
fn tensor_solve_matches_ndarray_solve() {
    // y' = A y with the same A on both backends, f64: the same steps and
    // the same outputs to round-off.
    let a = [[-0.5, 2.0], [-2.0, -0.5]];
    let at = Tensor::from_slice(&[-0.5, 2.0, -2.0, -0.5]).view([2, 2]);
    let ft = |_t: f64, y: &Tensor| at.matmul(y);
    let fa = |_t: f64, y: &ndarray::Array1<f64>| ndarray::arr2(&a).dot(y);
    let ts = [0.0, 0.3, 1.0, 4.0];
    for method in [&DOPRI5, &TSIT5] {
        let opts = SolveOptions::default().method(method).tol(1e-8, 1e-10);
        let st = solve(&ft, Tensor::from_slice(&[1.0, 0.5]), &ts, &opts).unwrap();
        let sa = solve(&fa, ndarray::array![1.0, 0.5], &ts, &opts).unwrap();
        assert_eq!(st.stats, sa.stats, "{}", method.name);
        for (yt, ya) in st.ys.iter().zip(&sa.ys) {
            let v: Vec<f64> = Vec::try_from(yt).unwrap();
            for (p, q) in v.iter().zip(ya.iter()) {
                assert!((p - q).abs() < 1e-13, "{}: {p} vs {q}", method.name);
            }
        }
    }
}

#[test]
fn f32_tensors_keep_their_kind_and_norms_see_nan() {
    let y = Tensor::from_slice(&[1.0f32, -2.0, f32::NAN]);
    assert!(!y.all_finite());
    let y = Tensor::ones([3], (Kind::Float, Device::Cpu));
    let z = y.lincomb(&[(2.0, &y)]);
    assert_eq!(z.kind(), Kind::Float);
    assert!((OdeState::dot(&z, &y) - 9.0).abs() < 1e-6);
    let f = |_t: f64, y: &Tensor| -y;
    let sol = solve(
        &f,
        Tensor::ones([4], (Kind::Float, Device::Cpu)),
        &[0.0, 1.0],
        &SolveOptions::default().tol(1e-5, 1e-7),
    )
    .unwrap();
    let err = (&sol.ys[1] - (-1f64).exp()).abs().max().double_value(&[]);
    assert!(err < 1e-5, "{err}");
}

#[test]
fn shape_mismatch_on_tensors_is_a_typed_error() {
    let f = |_t: f64, _y: &Tensor| Tensor::zeros([3], (Kind::Double, Device::Cpu));
    let r = solve(&f, Tensor::zeros([2], (Kind::Double, Device::Cpu)), &[0.0, 1.0], &SolveOptions::default());
    assert!(matches!(r, Err(ode_core::SolveError::ShapeMismatch { .. })));
}
