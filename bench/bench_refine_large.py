# SPDX-License-Identifier: MIT
"""The twin of bench_refine_large.c: the same periodic random packings (1,000
and 5,000 carbon atoms at 0.1 atoms/Å³, the same generator bit for bit),
the normalised Laplacian at 5 Å built here (minimum image: the box is wider
than 10 Å), and numpy.linalg.eigvalsh timed on it, with eq. 5 to the same
average spectrum so the two lines can be compared. One JSON line per size."""
import json
import time

import numpy as np

MASK = (1 << 64) - 1


def packing(n):
    L = (10.0 * n) ** (1.0 / 3.0)
    s = 2024
    x = np.empty((n, 3))
    m = 0
    while m < n:
        p = np.empty(3)
        for c in range(3):
            s = (s * 6364136223846793005 + 1442695040888963407) & MASK
            p[c] = float(s >> 11) / 9007199254740992.0 * L
        if m:
            d = p - x[:m]
            d -= L * np.floor(d / L + 0.5)
            r2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
            if np.any(r2 < 1.0):
                continue
        x[m] = p
        m += 1
    return x, L


def laplacian(x, L, rc):
    n = len(x)
    A = np.zeros((n, n))
    for i0 in range(0, n, 500):  # rows in blocks: (500, n, 3) at a time
        d = x[i0:i0 + 500, None, :] - x[None, :, :]
        d -= L * np.floor(d / L + 0.5)
        r = np.sqrt((d * d).sum(-1))
        A[i0:i0 + 500] = (r > 0) & (r <= rc)
    deg = A.sum(1)
    dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    return np.eye(n) - dinv[:, None] * A * dinv[None, :], deg


avg = 1.6 * np.arange(21) / 20.0  # the C side's average spectrum
for n in (1000, 5000):
    x, L = packing(n)
    Lap, deg = laplacian(x, L, 5.0)
    best = np.inf
    for rep in range(3 if n <= 1000 else 1):
        t0 = time.perf_counter()
        ev = np.linalg.eigvalsh(Lap)
        best = min(best, time.perf_counter() - t0)
    m = max(len(ev), len(avg))
    D = float(((np.pad(avg, (0, m - len(avg))) - np.pad(ev, (0, m - len(ev)))) ** 2).sum())
    print(json.dumps({"bench": "refine_radius_large", "impl": "numpy", "atoms": n,
                      "box": round(L, 4), "cutoff": 5.0, "radii": 1,
                      "eigvalsh_seconds": round(best, 3),
                      "spectral_distance": round(D, 6), "degree_std": round(float(deg.std()), 4)}),
          flush=True)
