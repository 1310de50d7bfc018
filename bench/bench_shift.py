# SPDX-License-Identifier: MIT
"""The radius-refinement loop of bench_shift.c in numpy, the reference for
the ratio: per structure, for each of the paper's 10 radii, the radius
graph, the normalised Laplacian, numpy.linalg.eigvalsh, eq. 5 to the
average training spectrum, argmin. One JSON line per molecule."""
import json
import os
import time

import numpy as np

DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
radii = np.linspace(3, 9, 10)
avg = np.linspace(0, 1.6, 21)  # any average spectrum: the cost is the same


def refine(pos):
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    best = (np.inf, None)
    for r in radii:
        A = ((d > 0) & (d <= r)).astype(float)
        deg = A.sum(1)
        dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
        L = np.eye(len(pos)) - dinv[:, None] * A * dinv[None, :]
        ev = np.linalg.eigvalsh(L)
        n = max(len(ev), len(avg))
        D = ((np.pad(avg, (0, n - len(avg))) - np.pad(ev, (0, n - len(ev)))) ** 2).sum()
        if D < best[0]:
            best = (D, r)
    return best[1]


for mol, target in (("aspirin", 150), ("naphthalene", 100)):
    R = np.load(os.path.join(DATA, "rmd17", "rmd17_%s_test_01.npz" % mol))["coords"][:200]
    best = np.inf
    for rep in range(3):
        t0 = time.perf_counter()
        for pos in R:
            refine(pos)
        best = min(best, (time.perf_counter() - t0) / len(R))
    print(json.dumps({"bench": "refine_radius", "impl": "numpy", "molecule": mol, "radii": 10,
                      "structures": len(R), "us_per_structure": round(1e6 * best, 2)}))
