# SPDX-License-Identifier: MIT
"""numpy twin of bench/bench_sgdml.c's prediction: the same formulas
(explicit differences to the permuted training set, einsum, two products)
on the 2018 aspirin model's first 200 training points, one structure per
call, 500 structures, best of 5; one JSON line."""
import json
import os
import time

import numpy as np

DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


def main():
    m = np.load(os.path.join(DATA, "sgdml_models", "sgdml_2018_aspirin.npz"))
    t = np.load(os.path.join(DATA, "rmd17", "rmd17_aspirin_test_01.npz"))
    X = m["Rt_desc"].T[:200]
    W = -m["Rt_d_desc_alpha"][:200, :, 0]
    perms = m["perms"].astype(int) - 1
    sig, c = float(m["sig"]), float(m["c"])
    N = perms.shape[1]
    il, jl = np.tril_indices(N, -1)
    pidx = np.zeros((N, N), int)
    pidx[il, jl] = np.arange(len(il))
    pidx[jl, il] = np.arange(len(il))
    pi = [pidx[p[il], p[jl]] for p in perms]
    Xp = np.concatenate([X[:, q] for q in pi])
    Wp = np.concatenate([W[:, q] for q in pi])
    c0 = 5.0 / (3 * sig ** 2)

    def pred(R):
        r = R[il] - R[jl]
        d = np.linalg.norm(r, axis=1)
        rd = r / d[:, None] ** 3
        dd = 1 / d - Xp
        u = np.sqrt(5) * np.linalg.norm(dd, axis=1) / sig
        e = np.exp(-u)
        dw = np.einsum("ij,ij->i", dd, Wp)
        v = (c0 * e * (1 + u)) @ Wp - (5 / sig ** 2) * (c0 * e * dw) @ dd
        E = -np.sum(c0 * (1 + u) * e * dw) + c
        F = np.zeros((N, 3))
        np.add.at(F, il, -v[:, None] * rd)
        np.add.at(F, jl, v[:, None] * rd)
        return E, F

    R = t["coords"][:500]
    best = 1e300
    for _ in range(5):
        t0 = time.perf_counter()
        for r in R:
            pred(r)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"bench": "sgdml_predict", "impl": "numpy", "molecule": "aspirin",
                      "samples": 200, "perms": int(perms.shape[0]), "structures": len(R),
                      "seconds": round(best, 4), "structures_per_s": round(len(R) / best, 1)}))


main()
