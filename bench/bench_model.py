# SPDX-License-Identifier: MIT
"""The PyTorch twin of bench/bench_model.c (the architecture of
tests/reference/test_model_torch.py, random weights): energy + forces of one
structure and a force-loss training step at batch 32, aspirin and uracil
(rMD17, first frames), PaiNN 128 x 3 and SchNet 128 x 3, K = 20, 5 A, one
thread, float64 and float32. One JSON line per measurement; median of
reps after warm-up."""
import json
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("bench_model.py: torch not installed, skipped", file=sys.stderr)
    sys.exit(0)

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))

DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "shared", "data")
F_, K_, T_, RC = 128, 20, 3, 5.0
ZS = [1, 6, 7, 8]


def silu(x):
    return x * torch.sigmoid(x)


def params(arch, dtype):
    g = torch.Generator().manual_seed(1)

    def w(*shape):
        a = np.sqrt(6.0 / (shape[0] + shape[1])) if len(shape) == 2 else 0.0
        return ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * a).to(dtype) \
            .requires_grad_()
    F = F_
    P = {"embedding": (torch.rand(len(ZS), F, generator=g, dtype=torch.float64) * 2 - 1)
         .to(dtype).requires_grad_()}
    for t in range(T_):
        p = "b%d." % t
        if arch == "painn":
            for n, s in [("W1", (F, F)), ("b1", (F,)), ("W2", (F, 3 * F)), ("b2", (3 * F,)),
                         ("Wf", (K_, 3 * F)), ("bf", (3 * F,)), ("U", (F, F)), ("V", (F, F)),
                         ("A1", (2 * F, F)), ("c1", (F,)), ("A2", (F, 3 * F)), ("c2", (3 * F,))]:
                P[p + n] = w(*s)
        else:
            for n, s in [("in", (F, F)), ("f1", (K_, F)), ("fb1", (F,)), ("f2", (F, F)),
                         ("fb2", (F,)), ("o1", (F, F)), ("ob1", (F,)), ("o2", (F, F)),
                         ("ob2", (F,))]:
                P[p + n] = w(*s)
    P["r1"], P["rb1"], P["r2"], P["rb2"] = w(F, F // 2), w(F // 2), w(F // 2, 1), w(1)
    return P


def energy(arch, P, R, species, seg, B, src, dst):
    N, F = R.shape[0], F_
    r = R[dst] - R[src]
    d = torch.sqrt((r * r).sum(1, keepdim=True))
    n = torch.arange(1, K_ + 1, dtype=R.dtype)
    rbf = torch.sin(n * np.pi * d / RC) / d
    x = d / RC
    env = 1 - 21 * x**5 + 35 * x**6 - 15 * x**7
    s = P["embedding"][species]
    if arch == "painn":
        v = torch.zeros(N, 3, F, dtype=R.dtype)
        for t in range(T_):
            p = "b%d." % t
            phi = silu(s @ P[p + "W1"] + P[p + "b1"]) @ P[p + "W2"] + P[p + "b2"]
            W = (rbf @ P[p + "Wf"] + P[p + "bf"]) * env
            xx = phi[dst] * W
            xs, xvv, xvs = xx[:, :F], xx[:, F:2 * F], xx[:, 2 * F:]
            s = s + torch.zeros(N, F, dtype=R.dtype).index_add(0, src, xs)
            dv = v[dst] * xvv[:, None, :] + (r / d)[:, :, None] * xvs[:, None, :]
            v = v + torch.zeros(N, 3, F, dtype=R.dtype).index_add(0, src, dv)
            Uv = v @ P[p + "U"]
            Vv = v @ P[p + "V"]
            nrm = torch.sqrt((Vv * Vv).sum(1) + 1e-8)
            a = silu(torch.cat([s, nrm], 1) @ P[p + "A1"] + P[p + "c1"]) @ P[p + "A2"] + P[p + "c2"]
            v = v + a[:, None, :F] * Uv
            s = s + a[:, F:2 * F] * (Uv * Vv).sum(1) + a[:, 2 * F:]
    else:
        for t in range(T_):
            p = "b%d." % t
            W = (silu(rbf @ P[p + "f1"] + P[p + "fb1"]) @ P[p + "f2"] + P[p + "fb2"]) * env
            m = torch.zeros(N, F, dtype=R.dtype).index_add(0, src, (s @ P[p + "in"])[dst] * W)
            s = s + silu(m @ P[p + "o1"] + P[p + "ob1"]) @ P[p + "o2"] + P[p + "ob2"]
    e = silu(s @ P["r1"] + P["rb1"]) @ P["r2"] + P["rb2"]
    return torch.zeros(B, 1, dtype=R.dtype).index_add(0, seg, e)


def batch(coords, z, B, dtype):
    n = len(z)
    R = np.concatenate([coords[i] for i in range(B)])
    src, dst = [], []
    for b in range(B):
        D = np.linalg.norm(coords[b][:, None] - coords[b][None], axis=2)
        i, j = np.nonzero((D <= RC) & ~np.eye(n, dtype=bool))
        src.append(i + b * n)
        dst.append(j + b * n)
    sp = torch.tensor([ZS.index(q) for q in z] * B)
    seg = torch.tensor(np.repeat(np.arange(B), n))
    return (torch.tensor(R, dtype=dtype), sp, seg, torch.tensor(np.concatenate(src)),
            torch.tensor(np.concatenate(dst)))


def timeit(fn, reps):
    for _ in range(2):
        fn()
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


ETHANOL_Z = [6, 6, 8, 1, 1, 1, 1, 1, 1]
ETHANOL_R = np.array([[0.0072, -0.5687, 0.0], [-1.2854, 0.2499, 0.0], [1.1304, 0.3147, 0.0],
                      [-0.0392, -1.1972, 0.89], [-0.0392, -1.1972, -0.89],
                      [-1.3175, 0.8784, 0.89], [-1.3175, 0.8784, -0.89],
                      [-2.1422, -0.4239, 0.0], [1.9074, -0.2654, 0.0]])


def ethanol_frames():
    """32 ethanol frames jittered by ±0.05 Å (ethanol is not in the data)."""
    rng = np.random.default_rng(7)
    return ETHANOL_R[None] + 0.1 * (rng.random((32, 9, 3)) - 0.5)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for arch in ["painn", "schnet"]:
        for mol, fname in [("aspirin", "rmd17/rmd17_aspirin_test_01.npz"),
                           ("uracil", "rmd17/rmd17_uracil_test_01.npz"),
                           ("ethanol", None)]:
            if fname is None:  # the same geometry bench_model.c builds
                z, coords = ETHANOL_Z, ethanol_frames()
                Fref_all = np.zeros_like(coords)
            else:
                path = os.path.join(DATA, fname)
                if not os.path.exists(path):
                    print("bench_model.py: %s missing, skipped" % path, file=sys.stderr)
                    continue
                d = np.load(path)
                z, coords = list(d["nuclear_charges"]), d["coords"]
                Fref_all = d["forces"] / 23.0605
            for dtype, dn in [(torch.float64, "float64"), (torch.float32, "float32")]:
                P = params(arch, dtype)
                R1, sp1, seg1, s1, d1 = batch(coords, z, 1, dtype)

                def ef():
                    R = R1.clone().requires_grad_()
                    E = energy(arch, P, R, sp1, seg1, 1, s1, d1)
                    (g,) = torch.autograd.grad(E.sum(), R)
                    return -g
                t = timeit(ef, reps)
                print(json.dumps({"bench": "model_energy_forces", "impl": "torch",
                                  "arch": arch, "molecule": mol, "atoms": len(z),
                                  "edges": int(s1.shape[0]), "features": F_, "blocks": T_,
                                  "rbf": K_, "cutoff": RC, "dtype": dn,
                                  "torch": torch.__version__, "seconds": t}), flush=True)
                RB, spB, segB, sB, dB = batch(coords, z, 32, dtype)
                Fref = torch.tensor(Fref_all[:32].reshape(-1, 3), dtype=dtype)
                plist = list(P.values())

                def step():
                    R = RB.clone().requires_grad_()
                    E = energy(arch, P, R, spB, segB, 32, sB, dB)
                    (g,) = torch.autograd.grad(E.sum(), R, create_graph=True)
                    loss = ((-g - Fref) ** 2).mean()
                    return torch.autograd.grad(loss, plist, allow_unused=True)
                t = timeit(step, max(3, reps // 4))
                print(json.dumps({"bench": "model_force_loss_step", "impl": "torch",
                                  "arch": arch, "molecule": mol, "batch": 32,
                                  "atoms": int(RB.shape[0]), "edges": int(sB.shape[0]),
                                  "features": F_, "blocks": T_, "dtype": dn,
                                  "seconds": t}), flush=True)


if __name__ == "__main__":
    main()
