//! Terminal events: locate the zero of an event function inside a step on
//! the step's interpolant, so finding it costs no evaluations of `f`.

use crate::solution::EventHit;
use crate::state::OdeState;

/// Finds `t` in the bracket `[a, b]` (either orientation) where `g` changes
/// sign, by the Illinois variant of regula falsi. `ga` and `gb` have opposite
/// signs or `gb == 0`. Returns `None` if `g` returns a non-finite value.
pub fn find_root(
    mut a: f64,
    mut ga: f64,
    mut b: f64,
    mut gb: f64,
    mut g: impl FnMut(f64) -> f64,
) -> Option<f64> {
    if gb == 0.0 {
        return Some(b);
    }
    let tol = 4.0 * f64::EPSILON * a.abs().max(b.abs()).max(1.0);
    // The side of the bracket that is kept twice in a row gets its value
    // halved (Illinois), which restores superlinear convergence.
    let mut side = 0i8;
    for _ in 0..200 {
        if (b - a).abs() <= tol {
            break;
        }
        let mut c = b - gb * (b - a) / (gb - ga);
        if !c.is_finite() || (c - a) * (c - b) > 0.0 {
            c = 0.5 * (a + b);
        }
        let gc = g(c);
        if !gc.is_finite() {
            return None;
        }
        if gc == 0.0 {
            return Some(c);
        }
        if gc * gb < 0.0 {
            a = b;
            ga = gb;
            side = 0;
        } else {
            if side == 1 {
                ga *= 0.5;
            }
            side = 1;
        }
        b = c;
        gb = gc;
    }
    // The crossing lies between a and b; report the later point in the
    // direction of integration is not known here, so return the midpoint.
    Some(0.5 * (a + b))
}

/// The terminal event inside a step from `t_old` to `t_new`, given the
/// event function's (finite) values at both ends: `Ok(None)` unless `g`
/// changed sign or reached zero from non-zero; otherwise the crossing found
/// by [`find_root`] on the step's continuous solution `at`, with the state
/// there (`y_new` itself when the crossing is the step's end). `Err(())`
/// when `g` is not finite somewhere in the search. Shared by the explicit
/// and the implicit solvers.
pub(crate) fn crossing<S: OdeState>(
    g: impl Fn(f64, &S) -> f64,
    (t_old, g_old): (f64, f64),
    (t_new, g_new): (f64, f64),
    y_new: &S,
    at: impl Fn(f64) -> S,
) -> Result<Option<EventHit<S>>, ()> {
    if !(g_old * g_new < 0.0 || (g_new == 0.0 && g_old != 0.0)) {
        return Ok(None);
    }
    let mut finite = true;
    let root = find_root(t_old, g_old, t_new, g_new, |t| {
        let v = g(t, &at(t));
        finite &= v.is_finite();
        v
    });
    match root {
        Some(t) if finite => Ok(Some(EventHit { t, y: if t == t_new { y_new.dup() } else { at(t) } })),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::find_root;

    #[test]
    fn finds_cubic_root_in_either_orientation() {
        let g = |t: f64| t * t * t - 2.0;
        let r = find_root(0.0, g(0.0), 3.0, g(3.0), g).unwrap();
        assert!((r - 2f64.cbrt()).abs() < 1e-13, "{r}");
        let r = find_root(3.0, g(3.0), 0.0, g(0.0), g).unwrap();
        assert!((r - 2f64.cbrt()).abs() < 1e-13, "{r}");
    }

    #[test]
    fn nan_event_value_is_reported() {
        assert!(find_root(0.0, -1.0, 1.0, 1.0, |_| f64::NAN).is_none());
    }
}
