//! Terminal events for the implicit methods: the sign of `g(t, y)` is
//! checked after every accepted step, and a change is located on the
//! step's own polynomial (no evaluations of `f`), as the explicit solvers
//! do on their interpolant.

use ndarray::Array1;

use super::{Error, Stepper};
use crate::error::SolveError;
use crate::event::crossing;
use crate::solution::EventHit;

/// An event function `g(t, y)`; the solve stops where it changes sign.
pub(crate) type EventFn<'a> = &'a dyn Fn(f64, &Array1<f64>) -> f64;

/// The event function and its value at the end of the last accepted step.
pub(crate) struct EventWatch<'a> {
    g: EventFn<'a>,
    last: f64,
}

impl<'a> EventWatch<'a> {
    /// Starts watching at `(t0, y0)`.
    pub fn new(g: EventFn<'a>, t0: f64, y0: &Array1<f64>) -> Result<Self, Error> {
        let last = g(t0, y0);
        if !last.is_finite() {
            return Err(SolveError::NonFiniteEvent { t: t0 });
        }
        Ok(EventWatch { g, last })
    }

    /// After a step from `t_old` to the stepper's time: the first crossing
    /// inside the step, if `g` changed sign (or reached zero from non-zero).
    pub fn check<S: Stepper>(
        &mut self,
        stepper: &S,
        t_old: f64,
    ) -> Result<Option<EventHit<Array1<f64>>>, Error> {
        let (t_new, y_new) = (stepper.t(), stepper.y());
        let g = self.g;
        let g_new = g(t_new, y_new);
        if !g_new.is_finite() {
            return Err(SolveError::NonFiniteEvent { t: t_new });
        }
        let g_old = std::mem::replace(&mut self.last, g_new);
        let at = |t: f64| {
            if t == t_new {
                y_new.clone()
            } else {
                stepper.eval_last(t).unwrap_or_else(|| y_new.clone())
            }
        };
        crossing(g, (t_old, g_old), (t_new, g_new), y_new, at)
            .map_err(|()| SolveError::NonFiniteEvent { t: t_new })
    }
}
