# SPDX-License-Identifier: MIT
"""numpy twin of bench/bench_npz.c: np.load all 50 rMD17 files and touch
every array the C reader uses (coords, energies / 23.0605,
forces / 23.0605, nuclear_charges, old_indices); best of 5; one JSON line."""
import json
import os
import time

import numpy as np

KCAL = 23.0605
DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
MOLS = ["aspirin", "benzene", "uracil", "naphthalene", "toluene"]
PATHS = [os.path.join(DATA, "rmd17", "rmd17_%s_%s_%02d.npz" % (m, s, k))
         for m in MOLS for s in ("train", "test") for k in range(1, 6)]


def read_all():
    frames = atoms = 0
    for p in PATHS:
        with np.load(p) as d:
            z = d["nuclear_charges"].astype(np.int32)
            R = np.ascontiguousarray(d["coords"], dtype=np.float64)
            E = d["energies"] / KCAL
            F = d["forces"] / KCAL
            idx = d["old_indices"]
            frames += R.shape[0]
            atoms += R.shape[0] * z.shape[0]
            assert np.isfinite(R).all() and np.isfinite(E).all() and np.isfinite(F).all()
            assert idx.shape[0] == R.shape[0]
    return frames, atoms


def main():
    nbytes = sum(os.path.getsize(p) for p in PATHS)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        frames, atoms = read_all()
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"bench": "npz_read", "impl": "numpy", "source": "disk",
                      "files": len(PATHS), "bytes": nbytes, "frames": frames,
                      "atoms": atoms, "repeats": 5, "seconds": round(best, 6),
                      "frames_per_s": round(frames / best),
                      "mb_per_s": round(nbytes / best / 1e6, 1)}))


if __name__ == "__main__":
    main()
