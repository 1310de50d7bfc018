# SPDX-License-Identifier: MIT
"""The PyTorch twin of bench/bench_train.c: a training step (force loss,
gradient for every parameter) and a TTT step (gradient for the embedding and
the first block only) at batch 32 on naphthalene, PaiNN 64 x 3 and 128 x 3,
K = 20, 5 A, one thread, float64 and float32, with torch.optim.AdamW /
torch.optim.SGD(momentum=0.9) updates. The architecture is bench_model.py's.
One JSON line per measurement; median after warm-up."""
import json
import os
import sys

import numpy as np

try:
    import torch
except ImportError:
    print("bench_train.py: torch not installed, skipped", file=sys.stderr)
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_model as bm  # noqa: E402

torch.set_num_threads(1)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    for molecule, F in (("naphthalene", 64), ("naphthalene", 128), ("aspirin", 128)):
        bench(molecule, F, reps)


def bench(molecule, F, reps):
    path = os.path.join(bm.DATA, "rmd17/rmd17_%s_test_01.npz" % molecule)
    if not os.path.exists(path):
        print("bench_train.py: %s missing, skipped" % path, file=sys.stderr)
        return
    d = np.load(path)
    z, coords = list(d["nuclear_charges"]), d["coords"]
    Fref_all = d["old_forces"][:32].reshape(-1, 3) / 23.0605
    Eref_all = d["old_energies"][:32] / 23.0605
    nat = len(z)
    bm.F_ = F
    for dtype, dn in [(torch.float64, "float64"), (torch.float32, "float32")]:
        P = bm.params("painn", dtype)
        RB, spB, segB, sB, dB = bm.batch(coords, z, 32, dtype)
        Fref = torch.tensor(Fref_all, dtype=dtype)
        Eref = torch.tensor(Eref_all - Eref_all.mean(), dtype=dtype)
        for mode in ("train_step", "ttt_step"):
            if mode == "train_step":
                plist = list(P.values())
                opt = torch.optim.AdamW(plist, lr=1e-6)
            else:
                plist = [v for k, v in P.items() if k == "embedding" or k.startswith("b0.")]
                opt = torch.optim.SGD(plist, lr=1e-6, momentum=0.9)

            def step():
                R = RB.clone().requires_grad_()
                E = bm.energy("painn", P, R, spB, segB, 32, sB, dB)
                (g,) = torch.autograd.grad(E.sum(), R, create_graph=True)
                # the C step's loss: per-atom energy term + force MSE
                eloss = (((E.reshape(-1) - Eref) / nat) ** 2).mean()
                loss = eloss + 100.0 * ((-g - Fref) ** 2).mean()
                grads = torch.autograd.grad(loss, plist, allow_unused=True)
                for p, gp in zip(plist, grads):
                    p.grad = gp if gp is not None else torch.zeros_like(p)
                opt.step()
            t = bm.timeit(step, reps)
            out = {"bench": mode, "impl": "torch", "arch": "painn",
                   "molecule": molecule, "batch": 32, "atoms": int(RB.shape[0]),
                   "features": F, "blocks": bm.T_, "rbf": bm.K_, "dtype": dn,
                   "trainable": int(sum(p.numel() for p in plist)), "seconds": t,
                   "structures_per_s": round(32 / t, 1)}
            if mode == "ttt_step":
                out["md17_preset_3000_steps_min"] = round(3000 * t / 60, 1)
            print(json.dumps(out), flush=True)


main()
