"""Peer side of `cargo xtask bench core`: scipy's solve_ivp on the cases xtask wrote.

Usage: python scipy_core.py CASES_JSON OUT_JSON

Reads the case definitions (problem, parameters, initial states, the linear
matrix, tolerances, timing policy) written by xtask, so both sides solve the
very same problems, and writes final states, evaluation counts and best-of-N
times. Errors are computed by xtask, against its reference, for both sides
alike. Progress goes to stderr.
"""

import json
import platform
import sys
import time

import numpy as np
import scipy
from scipy.integrate import solve_ivp

from peer_common import log, timed



# Right-hand sides, written the way a scipy user would write them.


def make_rhs(case):
    kind = case["problem"]
    p = case.get("params", {})
    if kind == "lorenz":
        sigma, rho, beta = p["sigma"], p["rho"], p["beta"]

        def lorenz(t, y):
            x, v, z = y
            return np.array([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])

        return lorenz
    if kind == "arenstorf":
        mu = p["mu"]
        nu = 1.0 - mu

        def arenstorf(t, y):
            x, z, vx, vz = y
            d1 = ((x + mu) ** 2 + z**2) ** 1.5
            d2 = ((x - nu) ** 2 + z**2) ** 1.5
            return np.array(
                [
                    vx,
                    vz,
                    x + 2.0 * vz - nu * (x + mu) / d1 - mu * (x - nu) / d2,
                    z - 2.0 * vx - nu * z / d1 - mu * z / d2,
                ]
            )

        return arenstorf
    if kind == "linear":
        a = np.array(case["matrix"], dtype=np.float64)

        def linear(t, y):
            return a @ y

        return linear
    if kind == "van_der_pol":
        mu = p["mu"]

        def van_der_pol(t, y):
            x, v = y
            return np.array([v, mu * (1.0 - x * x) * v - x])

        return van_der_pol
    raise ValueError(f"unknown problem {kind!r}")



def solve_many(f, t_span, y0s, method, rtol, atol):
    finals, nfe = [], 0
    for y0 in y0s:
        sol = solve_ivp(f, t_span, y0, method=method, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp {method} failed: {sol.message}")
        finals.append(sol.y[:, -1].tolist())
        nfe += sol.nfev
    return finals, nfe


def evenly_spaced(n_total, n):
    return [i * n_total // n for i in range(n)]


def main():
    cases_path, out_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as fh:
        spec = json.load(fh)
    policy = spec["timing"]
    batch_limit = spec["peer_batch_limit_s"]
    batch_target = spec["peer_batch_target_s"]
    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "results": [],
        "refs": [],
    }
    for case in spec["cases"]:
        f = make_rhs(case)
        t_span = (case["t0"], case["t1"])
        y0s = [np.array(y, dtype=np.float64) for y in case["y0s"]]
        n_total = len(y0s)

        # Which problems of a batch to solve: all, unless that would take
        # longer than the limit; then an evenly spaced subset.
        for m in spec["peer_methods"]:
            method, rtol, atol = m["method"], m["rtol"], m["atol"]
            indices = list(range(n_total))
            note = None
            if n_total > 1:
                pilot = evenly_spaced(n_total, min(n_total, 20))
                t0 = time.perf_counter()
                solve_many(f, t_span, [y0s[i] for i in pilot], method, rtol, atol)
                per = (time.perf_counter() - t0) / len(pilot)
                estimate = per * n_total
                if estimate > batch_limit:
                    n = max(len(pilot), min(n_total, int(batch_target / per)))
                    indices = evenly_spaced(n_total, n)
                    note = (
                        f"scipy solved an evenly spaced subset of {n} of the {n_total} problems "
                        f"(the full batch was estimated at {estimate:.0f} s); its time is scaled "
                        f"linearly by {n_total}/{n}, its error is the max over the subset"
                    )
                log(f"{case['name']} {method}: pilot {per * 1e3:.2f} ms per problem, "
                    f"full batch about {estimate:.0f} s; solving {len(indices)} of {n_total}")
            sub = [y0s[i] for i in indices]
            best, reps, (finals, nfe) = timed(lambda: solve_many(f, t_span, sub, method, rtol, atol), policy)
            scale = n_total / len(indices)
            log(f"{case['name']} {method} rtol {rtol:g}: {best * scale:.4g} s "
                f"(best of {reps}{', scaled' if scale != 1 else ''}), {nfe / len(indices):.0f} evaluations per problem")
            out["results"].append(
                {
                    "case": case["name"],
                    "method": method,
                    "rtol": rtol,
                    "atol": atol,
                    "time_s": best * scale,
                    "measured_s": best,
                    "repeats": reps,
                    "indices": indices,
                    "finals": finals,
                    "nfe_total": nfe,
                    "n_solved": len(indices),
                    "n_total": n_total,
                    "note": note,
                }
            )

        # One cross-check of xtask's reference with a tight DOP853 solve.
        ref = spec["reference"]
        idx = evenly_spaced(n_total, min(n_total, ref["peer_check_max"]))
        t0 = time.perf_counter()
        finals, _ = solve_many(f, t_span, [y0s[i] for i in idx], "DOP853", ref["rtol"], ref["atol"])
        log(f"{case['name']} reference check DOP853 rtol {ref['rtol']:g} on {len(idx)} problem(s): "
            f"{time.perf_counter() - t0:.2f} s")
        out["refs"].append({"case": case["name"], "indices": idx, "finals": finals})

    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
