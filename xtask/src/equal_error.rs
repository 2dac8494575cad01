//! Speed at equal accuracy, from a work-precision sweep.
//!
//! At equal tolerances two solvers rarely reach equal errors, so a ratio of
//! times at one rtol mixes speed with accuracy. Here each of the peer's
//! sweep points is compared with our time *at the peer's error*, read off
//! our own sweep: interpolated linearly in log time against log error
//! between two consecutive points of our sweep whose errors bracket it.
//! Peer points outside our range of errors are not compared (no
//! extrapolation).

/// A sweep point: wall-clock time in seconds and the error reached.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub time_s: f64,
    pub err: f64,
}

/// Our time at error `err` from `ours`, our sweep in the order of its
/// tolerances, or `None` when no two consecutive points bracket `err`.
/// Points with non-positive or non-finite values are left out (their
/// neighbours become consecutive). Where several segments bracket `err`
/// (the error is not monotone in the tolerance), the fastest reading is
/// taken: the sweep shows we reach that error in that time.
pub fn time_at_error(ours: &[Point], err: f64) -> Option<f64> {
    if !(err > 0.0 && err.is_finite()) {
        return None;
    }
    let valid = |p: &&Point| p.err > 0.0 && p.err.is_finite() && p.time_s > 0.0 && p.time_s.is_finite();
    let pts: Vec<Point> = ours.iter().filter(valid).copied().collect();
    let mut best: Option<f64> = None;
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !(a.err.min(b.err) <= err && err <= a.err.max(b.err)) {
            continue;
        }
        let t = if a.err == b.err {
            a.time_s.min(b.time_s)
        } else {
            let x = (err.ln() - a.err.ln()) / (b.err.ln() - a.err.ln());
            (a.time_s.ln() + x * (b.time_s.ln() - a.time_s.ln())).exp()
        };
        best = Some(best.map_or(t, |m: f64| m.min(t)));
    }
    // A single point (or an exact hit on the only one) still counts.
    if best.is_none() {
        best = pts.iter().filter(|p| p.err == err).map(|p| p.time_s).reduce(f64::min);
    }
    best
}

/// For each peer point inside our range of errors: `(peer error, peer time
/// / our time at that error)`, in the peer's order.
pub fn ratios(ours: &[Point], peer: &[Point]) -> Vec<(f64, f64)> {
    peer.iter().filter_map(|p| time_at_error(ours, p.err).map(|t| (p.err, p.time_s / t))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(time_s: f64, err: f64) -> Point {
        Point { time_s, err }
    }

    #[test]
    fn interpolates_log_log_between_bracketing_points() {
        // time = err^(-1/4): a straight line in log-log, read back exactly.
        let ours: Vec<Point> = [1e-4, 1e-6, 1e-8].iter().map(|&e: &f64| pt(e.powf(-0.25), e)).collect();
        for e in [1e-4, 3e-5, 1e-6, 2.5e-7, 1e-8] {
            let t = time_at_error(&ours, e).unwrap();
            assert!((t / e.powf(-0.25) - 1.0).abs() < 1e-12, "{e}: {t}");
        }
        // Outside the range: no extrapolation.
        assert_eq!(time_at_error(&ours, 1e-3), None);
        assert_eq!(time_at_error(&ours, 1e-9), None);
        assert_eq!(time_at_error(&ours, f64::NAN), None);
        assert_eq!(time_at_error(&ours, 0.0), None);
    }

    #[test]
    fn bad_points_are_left_out() {
        let ours = [pt(1.0, 1e-4), pt(2.0, 1e-6), pt(f64::NAN, 1e-7), pt(3.0, 0.0), pt(4.0, 1e-8)];
        // Between (1e-6, 2 s) and (1e-8, 4 s): halfway in log error.
        let t = time_at_error(&ours, 1e-7).unwrap();
        assert!((t - 8f64.sqrt()).abs() < 1e-12, "{t}");
        assert_eq!(time_at_error(&[pt(1.0, 1e-6)], 1e-6), Some(1.0));
        assert_eq!(time_at_error(&[], 1e-6), None);
    }

    #[test]
    fn a_non_monotone_sweep_gives_the_fastest_reading() {
        // The third tolerance's error is larger than the second's: 2e-6 is
        // bracketed by all three segments, and the first (fastest) counts.
        let ours = [pt(1.0, 1e-5), pt(2.0, 1e-6), pt(3.0, 5e-6), pt(4.0, 1e-8)];
        let t = time_at_error(&ours, 2e-6).unwrap();
        assert!(t < 2.0, "{t}");
    }

    #[test]
    fn ratios_compare_each_peer_point_in_range() {
        let ours = [pt(1e-3, 1e-4), pt(1e-2, 1e-8)];
        let peer = [pt(0.5, 1e-6), pt(0.1, 1e-2), pt(1.0, 1e-8)];
        let r = ratios(&ours, &peer);
        assert_eq!(r.len(), 2);
        // At 1e-6, halfway: our time sqrt(1e-5).
        assert!((r[0].1 - 0.5 / 1e-5f64.sqrt()).abs() < 1e-9, "{r:?}");
        assert!((r[1].1 - 100.0).abs() < 1e-9, "{r:?}");
    }
}
