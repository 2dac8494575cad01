"""Peer side of `cargo xtask bench stiff`: scipy's solve_ivp (BDF, Radau,
LSODA) on the stiff cases xtask wrote.

Usage: python scipy_stiff.py CASES_JSON OUT_JSON

Every right-hand side comes with its analytic Jacobian (dense, as a scipy
user would pass it with `jac=`), the same one xtask gives its own solvers.
On the banded heat cases scipy gets the structure as its documentation
asks: BDF and Radau a `scipy.sparse` csc Jacobian (they then factorize with
sparse LU), LSODA `lband`/`uband` and the packed banded Jacobian.
Writes final states, counters and best-of-N times; errors are computed by
xtask against its references for both sides alike. Progress goes to stderr.
"""

import json
import platform
import sys

import numpy as np
import scipy
import scipy.sparse
from scipy.integrate import solve_ivp

from peer_common import log, timed



def make_problem(case, method):
    """f, jac and extra solve_ivp keyword arguments for the case."""
    kind = case["problem"]
    p = case.get("params", {})
    if kind == "robertson":

        def f(t, y):
            a, b, c = y
            return np.array([-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b])

        def jac(t, y):
            _, b, c = y
            return np.array([[-0.04, 1e4 * c, 1e4 * b], [0.04, -1e4 * c - 6e7 * b, -1e4 * b], [0.0, 6e7 * b, 0.0]])

        return f, jac, {}
    if kind == "van_der_pol":
        mu = p["mu"]

        def f(t, y):
            return np.array([y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]])

        def jac(t, y):
            return np.array([[0.0, 1.0], [-2.0 * mu * y[0] * y[1] - 1.0, mu * (1.0 - y[0] * y[0])]])

        return f, jac, {}
    if kind == "hires":

        def f(t, y):
            r = 280.0 * y[5] * y[7] - 1.81 * y[6]
            return np.array(
                [
                    -1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007,
                    1.71 * y[0] - 8.75 * y[1],
                    -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4],
                    8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3],
                    -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6],
                    -280.0 * y[5] * y[7] + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6],
                    r,
                    -r,
                ]
            )

        def jac(t, y):
            j = np.zeros((8, 8))
            j[0, :3] = [-1.71, 0.43, 8.32]
            j[1, :2] = [1.71, -8.75]
            j[2, 2:5] = [-10.03, 0.43, 0.035]
            j[3, 1:4] = [8.32, 1.71, -1.12]
            j[4, 4:7] = [-1.745, 0.43, 0.43]
            a, b = 280.0 * y[7], 280.0 * y[5]
            j[5, 3:8] = [0.69, 1.71, -a - 0.43, 0.69, -b]
            j[6, 5:8] = [a, -1.81, b]
            j[7, 5:8] = [-a, 1.81, -b]
            return j

        return f, jac, {}
    if kind == "orego":
        s, q, w = 77.27, 8.375e-6, 0.161

        def f(t, y):
            return np.array(
                [s * (y[1] + y[0] * (1.0 - q * y[0] - y[1])), (y[2] - (1.0 + y[0]) * y[1]) / s, w * (y[0] - y[2])]
            )

        def jac(t, y):
            return np.array(
                [
                    [s * (1.0 - 2.0 * q * y[0] - y[1]), s * (1.0 - y[0]), 0.0],
                    [-y[1] / s, -(1.0 + y[0]) / s, 1.0 / s],
                    [w, 0.0, -w],
                ]
            )

        return f, jac, {}
    if kind == "heat":
        n = p["n"]
        c = (n + 1.0) ** 2
        j = np.zeros((n, n))
        idx = np.arange(n)
        j[idx, idx] = -2.0 * c
        j[idx[1:], idx[:-1]] = c
        j[idx[:-1], idx[1:]] = c

        def f(t, u):
            out = -2.0 * u
            out[1:] += u[:-1]
            out[:-1] += u[1:]
            return c * out

        if p.get("banded"):
            if method == "LSODA":
                # jac_packed[uband + i - j, j] = jac[i, j] with lband = uband = 1.
                packed = np.empty((3, n))
                packed[0, :] = c
                packed[1, :] = -2.0 * c
                packed[2, :] = c

                def jac_packed(t, u):
                    return packed

                return f, jac_packed, {"lband": 1, "uband": 1}
            sparse = scipy.sparse.csc_matrix(j)

            def jac_sparse(t, u):
                return sparse

            return f, jac_sparse, {}

        def jac(t, u):
            return j

        return f, jac, {}
    raise ValueError(f"unknown problem {kind!r}")



def main():
    cases_path, out_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as fh:
        spec = json.load(fh)
    policy = spec["timing"]
    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "results": [],
    }
    for run in spec["runs"]:
        case = next(c for c in spec["cases"] if c["name"] == run["case"])
        method, rtol, atol = run["method"], run["rtol"], run["atol"]
        f, jac, extra = make_problem(case, method)
        y0 = np.array(case["y0"], dtype=np.float64)
        t_span = (case["t0"], case["t1"])

        def solve():
            return solve_ivp(f, t_span, y0, method=method, rtol=rtol, atol=atol, jac=jac, **extra)

        best, reps, sol = timed(solve, policy)
        ok = bool(sol.success)
        log(f"{case['name']} {method} rtol {rtol:g}: {best:.4g} s (best of {reps}), nfev {sol.nfev}, "
            f"{'ok' if ok else 'FAILED: ' + sol.message}")
        out["results"].append(
            {
                "case": case["name"],
                "method": method,
                "rtol": rtol,
                "time_s": best,
                "repeats": reps,
                "success": ok,
                "final": sol.y[:, -1].tolist(),
                "nfe": int(sol.nfev),
                "njev": int(sol.njev),
                "nlu": int(sol.nlu),
                "steps": int(sol.t.size - 1),
            }
        )
    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
