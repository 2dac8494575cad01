"""Peer side of `cargo xtask bench torch`: torchdiffeq on the same neural ODEs.

Usage: python torchdiffeq_bench.py SPEC_JSON DATA_JSON OUT_JSON

Reads the spec written by xtask (batches, modes, tolerances, threads, timing
policy, device) and the weights and initial states our benchmark binary drew
(DATA_JSON, plain lists of float32 values), so both sides solve the very same
problems. Writes best-of-N times, evaluation counts (calls of the dynamics
module, forward and backward), outputs y(1) and parameter gradients.
Progress goes to stderr.
"""

import json
import platform
import sys

import torch
import torchdiffeq
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from peer_common import log, timed



class Dynamics(nn.Module):
    """y' = W2 tanh(W1 y + b1) + b2, counting its calls."""

    def __init__(self, d, h):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, h), nn.Tanh(), nn.Linear(h, d))
        self.nfe = 0

    def forward(self, t, y):
        self.nfe += 1
        return self.net(y)



def main():
    spec_path, data_path, out_path = sys.argv[1:4]
    with open(spec_path) as fh:
        spec = json.load(fh)
    with open(data_path) as fh:
        data = json.load(fh)
    torch.set_num_threads(spec["threads"])
    dev = spec.get("device", "auto")
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    policy = spec["timing"]
    rtol, atol = spec["rtol"], spec["atol"]
    t = torch.tensor([0.0, 1.0], dtype=torch.float32, device=device)
    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchdiffeq": torchdiffeq.__version__,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "results": [],
    }
    for case in data["cases"]:
        d, h, _ = case["dims"]
        func = Dynamics(d, h)
        with torch.no_grad():
            lin1, lin2 = func.net[0], func.net[2]
            lin1.weight.copy_(torch.tensor(case["w1"], dtype=torch.float32).view(h, d))
            lin1.bias.copy_(torch.tensor(case["b1"], dtype=torch.float32))
            lin2.weight.copy_(torch.tensor(case["w2"], dtype=torch.float32).view(d, h))
            lin2.bias.copy_(torch.tensor(case["b2"], dtype=torch.float32))
        func = func.to(device)
        params = [lin1.weight, lin1.bias, lin2.weight, lin2.bias]
        for entry in case["y0s"]:
            b = entry["batch"]
            y0 = torch.tensor(entry["y0"], dtype=torch.float32).view(b, d).to(device)
            for mode in spec["modes"]:
                if mode == "aca":
                    continue  # ours only; compared with odeint's direct backprop

                def run():
                    func.nfe = 0
                    if mode == "forward":
                        with torch.no_grad():
                            y1 = odeint(func, y0, t, rtol=rtol, atol=atol, method="dopri5")[-1]
                        return y1, func.nfe, 0
                    for p in params:
                        p.grad = None
                    solver = odeint_adjoint if mode == "adjoint" else odeint
                    y1 = solver(func, y0, t, rtol=rtol, atol=atol, method="dopri5")[-1]
                    nfe_f = func.nfe
                    (y1**2).sum().backward()
                    return y1.detach(), nfe_f, func.nfe - nfe_f

                run()  # warm-up
                best, reps, (y1, nfe_f, nfe_b) = timed(run, policy, sync)
                log(f"{case['name']} batch {b} {mode}: {best * 1e3:.3f} ms (best of {reps}), NFE {nfe_f} + {nfe_b}")
                r = {
                    "case": case["name"],
                    "batch": b,
                    "mode": mode,
                    "time_s": best,
                    "repeats": reps,
                    "nfe_forward": nfe_f,
                    "nfe_backward": nfe_b,
                    "y1": y1.detach().cpu().double().flatten().tolist(),
                }
                if mode != "forward":
                    r["grads"] = torch.cat([p.grad.detach().cpu().double().flatten() for p in params]).tolist()
                out["results"].append(r)
    with open(out_path, "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
