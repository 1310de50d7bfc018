# SPDX-License-Identifier: MIT
"""Reference for bench_extxyz.c: ase.io.read(path, ':') on the same files
(3BPA train_300K and train_mixedT, every OC20 trajectory), best of REPS
runs, one JSON line per file plus a total; atoms/s is what to compare."""
import glob
import json
import os
import time

import ase.io

REPS = 3
DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")


def bench(rel):
    path = os.path.join(DATA, rel)
    best = float("inf")
    frames = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        frames = ase.io.read(path, ":", format="extxyz")
        best = min(best, time.perf_counter() - t0)
    atoms = sum(len(a) for a in frames)
    print(json.dumps({"bench": "extxyz_read", "impl": "ase-3.22", "source": "disk",
                      "file": rel, "bytes": os.path.getsize(path),
                      "frames": len(frames), "atoms": atoms, "reps": REPS,
                      "seconds": best, "atoms_per_s": atoms / best}), flush=True)
    return atoms, best


def main():
    files = ["3bpa/train_300K.xyz", "3bpa/train_mixedT.xyz"]
    files += sorted(os.path.relpath(p, DATA)
                    for p in glob.glob(os.path.join(DATA, "oc20", "*.extxyz")))
    atoms = seconds = 0.0
    for rel in files:
        a, s = bench(rel)
        atoms += a
        seconds += s
    print(json.dumps({"bench": "extxyz_read", "impl": "ase-3.22", "source": "disk",
                      "file": "all", "atoms": int(atoms), "seconds": seconds,
                      "atoms_per_s": atoms / seconds}))


if __name__ == "__main__":
    main()
