"""What the peer scripts share: logging and the timing rule of xtask's
TimingPolicy (best of N runs, N adapted to a time budget), so every peer
is timed exactly as our side is."""

import sys
import time


def log(msg):
    print(f"[peer] {msg}", file=sys.stderr, flush=True)


def repeats_after(first, policy):
    """How many runs in all, given the first took `first` seconds."""
    if first >= policy["budget_s"]:
        return 1
    n = int(policy["budget_s"] / max(first, 1e-9))
    return max(policy["min_repeats"], min(policy["max_repeats"], n))


def timed(fn, policy, sync=lambda: None):
    """Best wall-clock time of `fn` over the policy's repeats, the number of
    runs and the last result. `sync` waits for queued device work (CUDA)."""
    t0 = time.perf_counter()
    last = fn()
    sync()
    best = time.perf_counter() - t0
    n = repeats_after(best, policy)
    for _ in range(1, n):
        t0 = time.perf_counter()
        last = fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best, n, last
