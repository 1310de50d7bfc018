#!/usr/bin/env python3
"""Frames of rMD17 files by old_index membership, written as extxyz with the
original MD17 labels (old_energies, old_forces in kcal/mol -> eV by 23.0605,
the paper's convention). Used by bench/md17/run to keep the frames a prior or
a model is trained on apart from the frames it is evaluated on.

  select.py OUT.extxyz --from A.npz [B.npz ...] [--exclude C.npz ...] [--max N] [--seed S]

Frames of --from (deduplicated on old_index, first occurrence kept) whose
old_index is in no --exclude file; --max keeps a seeded random subset."""
import sys

import numpy as np

KCAL = 23.0605


def main(argv):
    out = argv[0]
    src, exc, mode, mx, seed = [], [], None, None, 1
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("--from", "--exclude"):
            mode = a
        elif a == "--max":
            mx = int(argv[i + 1]); i += 1
        elif a == "--seed":
            seed = int(argv[i + 1]); i += 1
        else:
            (src if mode == "--from" else exc).append(a)
        i += 1
    bad = set()
    for f in exc:
        bad.update(np.load(f)["old_indices"].tolist())
    seen, keep = set(), []
    for f in src:
        d = np.load(f)
        for k, oi in enumerate(d["old_indices"].tolist()):
            if oi in bad or oi in seen:
                continue
            seen.add(oi)
            keep.append((d, k, oi))
    if mx is not None and len(keep) > mx:
        rng = np.random.default_rng(seed)
        sel = np.sort(rng.choice(len(keep), mx, replace=False))
        keep = [keep[j] for j in sel]
    sym = {1: "H", 6: "C", 7: "N", 8: "O"}
    with open(out + ".tmp", "w") as fp:
        for d, k, oi in keep:
            z = d["nuclear_charges"]
            R = d["coords"][k]
            E = float(d["old_energies"][k]) / KCAL
            F = d["old_forces"][k] / KCAL
            fp.write("%d\n" % len(z))
            fp.write('Properties=species:S:1:pos:R:3:forces:R:3 energy=%.12f old_index=%d pbc="F F F"\n'
                     % (E, oi))
            for a in range(len(z)):
                fp.write("%s %.10f %.10f %.10f %.12f %.12f %.12f\n"
                         % (sym[int(z[a])], *R[a], *F[a]))
    import os
    os.replace(out + ".tmp", out)
    print("%s: %d frames" % (out, len(keep)), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
