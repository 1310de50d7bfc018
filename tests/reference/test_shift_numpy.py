# SPDX-License-Identifier: MIT
"""Shift statistics, diagnosis and radius refinement against an independent
numpy computation on real rMD17 data (paper eqs 3–5; issue acceptance):
train on aspirin + benzene + uracil, test on naphthalene, toluene and
aspirin."""
import csv
import json
import os
import tempfile

import numpy as np

from check import check, close, data, done, run

KCAL = 23.0605
tmp = tempfile.mkdtemp(prefix="mlshift-shift-")


def load(mol, kind, splits):
    """Frames of the given splits, deduplicated on old_indices (numpy)."""
    R, F, seen = [], [], set()
    z = None
    for k in splits:
        d = np.load(data("rmd17/rmd17_%s_%s_%02d.npz" % (mol, kind, k)))
        z = d["nuclear_charges"].astype(int)
        for i, oi in enumerate(d["old_indices"]):
            if oi in seen:
                continue
            seen.add(oi)
            R.append(d["coords"][i])
            F.append(d["old_forces"][i] / KCAL)
    return z, np.array(R), np.array(F)


def spectra(R, rc):
    """Ascending normalised-Laplacian spectra of frames R (M, N, 3)."""
    d = np.linalg.norm(R[:, :, None, :] - R[:, None, :, :], axis=-1)
    A = ((d > 0) & (d <= rc)).astype(float)
    deg = A.sum(-1)
    dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    L = np.eye(R.shape[1])[None] - dinv[:, :, None] * A * dinv[:, None, :]
    return np.linalg.eigvalsh(L)


def dist(eig, avg):
    n = max(len(eig), len(avg))
    a = np.zeros(n)
    b = np.zeros(n)
    a[:len(avg)] = avg
    b[:len(eig)] = eig
    return ((a - b) ** 2).sum()


rc = 5.0
train = {m: load(m, "train", range(1, 6)) for m in ("aspirin", "benzene", "uracil")}
Nmax = max(z.size for z, _, _ in train.values())
padded, nat, carb, fn, elem = [], [], [], [], {}
for z, R, F in train.values():
    for e in spectra(R, rc):
        padded.append(np.pad(e, (0, Nmax - len(e))))
    nat += [len(z)] * len(R)
    carb += [np.mean(z == 6)] * len(R)
    fn += list(np.linalg.norm(F, axis=-1).mean(-1))
    for s, zz in (("H", 1), ("C", 6), ("N", 7), ("O", 8)):
        if (z == zz).sum():
            elem[s] = elem.get(s, 0) + int((z == zz).sum()) * len(R)
padded = np.array(padded)
avg = padded.mean(0)
dtrain = ((padded - avg) ** 2).sum(1)

stats = os.path.join(tmp, "train.stats")
files = [data("rmd17/rmd17_%s_train_%02d.npz" % (m, k))
         for m in ("aspirin", "benzene", "uracil") for k in range(1, 6)]
rc_, out, err = run("stats", *files, "--labels", "old", "--dedup", "old_index",
                    "--cutoff", "5.0", "-o", stats)
check(rc_ == 0, "mlshift stats: %s" % err)
st = json.load(open(stats))
check(st["version"] == 1 and st["n_structures"] == len(padded) == 3 * 4895,
      "structures %r" % st.get("n_structures"))
check(st["elements"] == elem, "element counts %r vs %r" % (st["elements"], elem))
close(st["spectrum"], avg, 1e-10, 0, "average training spectrum")
close([st["spectral_distance"]["mean"], st["spectral_distance"]["std"]],
      [dtrain.mean(), dtrain.std()], 1e-10, 1e-10, "training spectral distance mean/std")
close([st["natoms"]["mean"], st["natoms"]["std"], st["carbon_fraction"]["mean"],
       st["carbon_fraction"]["std"]], [np.mean(nat), np.std(nat), np.mean(carb), np.std(carb)],
      1e-12, 1e-12, "size and carbon fraction")
close([st["force_norm"]["mean"], st["force_norm"]["std"]], [np.mean(fn), np.std(fn)],
      1e-12, 1e-10, "force norm mean/std")
check(sorted(st["compositions"]) == ["C4H4N2O2", "C6H6", "C9H8O4"],
      "compositions %r" % st["compositions"])

# Diagnose naphthalene and toluene (new compositions) and aspirin test frames.
for mol, new in (("naphthalene", True), ("toluene", True), ("aspirin", False)):
    z, R, F = load(mol, "test", [1])
    out_csv = os.path.join(tmp, "%s.csv" % mol)
    rc_, out, err = run("diagnose", "--stats", stats, data("rmd17/rmd17_%s_test_01.npz" % mol),
                        "--labels", "old", "--csv", out_csv)
    check(rc_ == 0, "diagnose %s: %s" % (mol, err))
    if rc_:
        continue
    rows = list(csv.DictReader(open(out_csv)))
    check(len(rows) == len(R), "%s rows" % mol)
    ours = np.array([float(r["spectral_distance"]) for r in rows])
    want = np.array([dist(e, avg) for e in spectra(R, rc)])
    close(ours, want, 1e-10, 0, "%s spectral distances vs numpy" % mol)
    feat = [int(r["ood_features"]) for r in rows]
    if new:
        check(all(feat), "%s: every structure OOD on features" % mol)
    else:
        check(not any(feat), "%s: no feature flags (%d)" % (mol, sum(feat)))
    conn = np.array([int(r["ood_connectivity"]) for r in rows])
    check((conn == (want - dtrain.mean() > dtrain.std())).all(),
          "%s connectivity flags by the 1-std rule" % mol)
    f = np.array([float(r["force_norm"]) for r in rows])
    close(f, np.linalg.norm(F, axis=-1).mean(-1), 1e-12, 1e-10, "%s force norms" % mol)
    fl = np.array([int(r["ood_force_norm"]) for r in rows])
    check((fl == (np.abs(f - np.mean(fn)) > np.std(fn))).all(), "%s force-norm flags" % mol)
    if not new:
        print("aspirin test: %d of %d connectivity flags, %d force-norm flags"
              % (conn.sum(), len(conn), fl.sum()))

# Radius refinement: numpy argmin over the paper's radii (ties: training
# cutoff, then smaller), never worse than the training cutoff.
radii = np.linspace(3, 9, 10)
for mol in ("toluene", "naphthalene"):
    z, R, F = load(mol, "test", [1])
    R = R[:200]
    src = os.path.join(tmp, "%s200.extxyz" % mol)
    run("convert", data("rmd17/rmd17_%s_test_01.npz" % mol), "--labels", "old",
        "--split", "200,0,0", "--seed", "0", "--part", "train", "-o", src, "--quiet")
    # The split shuffles: recover the frames in the order written.
    from ase.io import read as ase_read
    R = np.array([a.positions for a in ase_read(src, ":")])
    out_csv = os.path.join(tmp, "%s-rr.csv" % mol)
    rc_, out, err = run("refine-radius", "--stats", stats, src, "--csv", out_csv)
    check(rc_ == 0, "refine-radius %s: %s" % (mol, err))
    if rc_:
        continue
    rows = list(csv.DictReader(open(out_csv)))
    D = np.array([[dist(e, avg) for e in spectra(R, r)] for r in radii]).T  # (M, k)
    d5 = np.array([dist(e, avg) for e in spectra(R, rc)])
    want_r = []
    for m in range(len(R)):
        best_r, best_d = rc, d5[m]
        for r, d in zip(radii, D[m]):
            tol = 1e-12 * max(1.0, abs(best_d))
            if d < best_d - tol or (abs(d - best_d) <= tol and best_r != rc and r < best_r):
                best_r, best_d = r, d
        want_r.append(best_r)
    got_r = np.array([float(r["radius"]) for r in rows])
    check(np.allclose(got_r, want_r, atol=1e-9), "%s chosen radii vs numpy argmin (%d differ)"
          % (mol, int((np.abs(got_r - want_r) > 1e-9).sum())))
    got_d = np.array([float(r["spectral_distance"]) for r in rows])
    got_d5 = np.array([float(r["spectral_distance_train_cutoff"]) for r in rows])
    close(got_d5, d5, 1e-10, 0, "%s distance at the training cutoff" % mol)
    check((got_d <= got_d5 + 1e-12).all(), "%s: refinement never deteriorates" % mol)
    print("%s: %d of %d radii changed, mean D %.4f -> %.4f" % (
        mol, int((got_r != rc).sum()), len(got_r), got_d5.mean(), got_d.mean()))
done()
