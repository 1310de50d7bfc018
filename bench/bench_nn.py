# SPDX-License-Identifier: MIT
"""The toy model of bench/bench_nn.c in PyTorch, one thread, float64 and
float32: energy + forces (autograd.grad, create_graph=False) and a
force-loss step (forces with create_graph=True, then backward to the
parameters). Same sizes as the C bench (B copies of a 21-atom molecule,
all pairs within 5 A, K = 20, H = 128); one JSON line per measurement,
best of `reps` after two warm-ups, printed beside bench_nn's lines by
`make bench`. Usage: bench_nn.py [reps]."""
import json
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("torch (Debian python3-torch) is not installed: bench skipped", file=sys.stderr)
    sys.exit(0)

NA, K, H, RC = 21, 20, 128, 5.0


class XorShift:
    """bench_nn.c's xorshift64 generator, so both benches see the same
    molecule, edges, reference forces and weights."""

    def __init__(self):
        self.s = 2463534242

    def __call__(self, lo, hi):
        m = (1 << 64) - 1
        self.s ^= (self.s << 13) & m
        self.s ^= self.s >> 7
        self.s ^= (self.s << 17) & m
        return lo + (hi - lo) * (self.s >> 11) / 9007199254740992.0


def toy(B, dtype):
    u = XorShift()
    mol = np.array([[u(0, 4.5) for _ in range(3)] for _ in range(NA)])
    R = np.zeros((B * NA, 3))
    Fref = np.zeros((B * NA, 3))
    for b in range(B):
        for i in range(NA):
            for k in range(3):
                R[b * NA + i, k] = mol[i, k] + 0.05 * u(-1, 1)
                Fref[b * NA + i, k] = u(-1, 1)
    src, dst = [], []
    for b in range(B):
        for i in range(NA):
            for j in range(NA):
                if i != j and np.sum((R[b * NA + j] - R[b * NA + i]) ** 2) <= RC * RC:
                    src.append(b * NA + i)
                    dst.append(b * NA + j)
    W1 = np.array([u(-1, 1) / 4.5 for _ in range((K + 1) * H)]).reshape(K + 1, H)
    W2 = np.array([u(-1, 1) / 11.3 for _ in range(H * H)]).reshape(H, H)
    b1, w3, w4 = np.zeros(H), np.zeros((H, 1)), np.zeros((H, 1))
    for k in range(H):
        b1[k] = u(-0.1, 0.1)
        w3[k] = u(-1, 1) / 11.3
        w4[k] = u(-1, 1) / 11.3
    t = dict(
        B=B, N=B * NA,
        R=torch.tensor(R, dtype=dtype),
        Fref=torch.tensor(Fref, dtype=dtype),
        batch=torch.arange(B).repeat_interleave(NA),
        src=torch.tensor(src), dst=torch.tensor(dst),
        freq=torch.arange(1, K + 1, dtype=dtype) * np.pi / RC,
    )
    t["theta"] = [torch.tensor(a, dtype=dtype, requires_grad=True)
                  for a in (W1, b1, W2, w3, w4)]
    return t


def energy(t, R):
    W1, b1, W2, w3, w4 = t["theta"]
    src, dst, N = t["src"], t["dst"], t["N"]
    E = src.shape[0]
    r = R[dst] - R[src]                                      # (E, 3)
    d = torch.sqrt((r * r).sum(1, keepdim=True))             # (E, 1)
    rbf = torch.sin(d * t["freq"]) / d                       # (E, K)
    phi = torch.cat([rbf, d], 1)                             # (E, K+1)
    u = d / RC
    env = -21 * u**5 + 35 * u**6 - 15 * u**7 + 1             # (E, 1)
    h = torch.nn.functional.silu(phi @ W1 + b1) * env        # (E, H)
    z = torch.zeros(N, H, dtype=R.dtype).index_add(0, src, h)
    s = torch.nn.functional.silu(z @ W2)                     # (N, H)
    vec = (r / d).reshape(E, 3, 1) * h.reshape(E, 1, H)      # (E, 3, H)
    v = torch.zeros(N, 3, H, dtype=R.dtype).index_add(0, src, vec)
    vn = (v * v).sum(1)                                      # (N, H)
    e = s @ w3 + vn @ w4                                     # (N, 1)
    return torch.zeros(t["B"], 1, dtype=R.dtype).index_add(0, t["batch"], e)


def energy_forces(t):
    R = t["R"].clone().requires_grad_(True)
    Eb = energy(t, R)
    (g,) = torch.autograd.grad(Eb.sum(), R)
    return -g


def train_step(t):
    R = t["R"].clone().requires_grad_(True)
    Eb = energy(t, R)
    (g,) = torch.autograd.grad(Eb.sum(), R, create_graph=True)
    loss = ((g + t["Fref"]) ** 2).sum()                      # F = -g; (F - Fref)^2
    return torch.autograd.grad(loss, t["theta"])


def best(fn, t, reps):
    fn(t)
    fn(t)
    b = 1e300
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(t)
        b = min(b, time.perf_counter() - t0)
    return b


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.set_num_threads(1)
    for B in (1, 8):
        for dtype, name in ((torch.float64, "float64"), (torch.float32, "float32")):
            t = toy(B, dtype)
            for bench, fn in (("energy_forces", energy_forces), ("force_loss_step", train_step)):
                print(json.dumps({
                    "bench": "nn_" + bench, "impl": "torch", "dtype": name,
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "structures": B, "atoms": t["N"], "edges": int(t["src"].shape[0]),
                    "features": H, "rbf": K, "seconds": float("%.6g" % best(fn, t, reps)),
                }), flush=True)


main()
