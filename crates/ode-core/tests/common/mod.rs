//! Proptest strategies shared by the no-panic tests of the explicit and
//! implicit solvers: floats that are mostly sensible and sometimes special
//! (NaN, infinities, zeros of both signs, extremes), and output times.
#![allow(dead_code)] // each test binary uses its own subset

use proptest::prelude::*;

pub fn special_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -10.0f64..10.0,
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(-1e-300),
        1 => Just(f64::MIN_POSITIVE),
        1 => any::<f64>(),
    ]
}

/// Mostly sensible values, sometimes special ones.
pub fn mostly(range: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![4 => range, 1 => special_f64()]
}

/// Output times: usually a valid monotone sequence (either direction),
/// sometimes anything at all.
pub fn output_times() -> impl Strategy<Value = Vec<f64>> {
    let valid = (-5.0f64..5.0, prop::collection::vec(0.01f64..3.0, 0..6), any::<bool>()).prop_map(
        |(start, incs, backwards)| {
            let mut t = start;
            let mut v = vec![t];
            for d in incs {
                t += if backwards { -d } else { d };
                v.push(t);
            }
            v
        },
    );
    prop_oneof![4 => valid, 1 => prop::collection::vec(special_f64(), 0..6)]
}
