# SPDX-License-Identifier: MIT
"""sGDML against an independent numpy predictor.

1. The 2018 sGDML models: numpy implements sGDML's own predictor from the
   npz keys (its sign convention: the stored coefficients are −J·α) and the
   C predictor (test_sgdml --predict) must agree on energies and forces.
2. Our model file: parsed here with struct from its documented layout
   (docs/priors-sgdml.md), predicted with the same numpy code, compared with
   C; then numpy evaluates the trained model on the MD17 test frames: force
   MAE of naphthalene M = 50 ≤ 45 meV/Å (paper Table 2: 42.3)."""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

KCAL = 23.0605
BUILD = os.path.dirname(os.path.abspath(check.MLSHIFT))
TEST = os.path.join(BUILD, "tests", "test_sgdml")


def predictor(X, W, perms, sig, c, ystd):
    """X, W (M, D); perms (P, N) 0-based. W in our convention."""
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
        x = 1 / d
        rd = r / d[:, None] ** 3
        dd = x - Xp
        u = np.sqrt(5) * np.linalg.norm(dd, axis=1) / sig
        e = np.exp(-u)
        dw = np.einsum("ij,ij->i", dd, Wp)
        v = (c0 * e * (1 + u)) @ Wp - (5 / sig ** 2) * (c0 * e * dw) @ dd
        E = -ystd * np.sum(c0 * (1 + u) * e * dw) + c
        F = np.zeros((N, 3))
        np.add.at(F, il, -ystd * v[:, None] * rd)
        np.add.at(F, jl, ystd * v[:, None] * rd)
        return E, F
    return pred


def run_c(model, R, tmp):
    pos = os.path.join(tmp, "pos.txt")
    out = os.path.join(tmp, "out.txt")
    np.savetxt(pos, R.reshape(-1, 3), fmt="%.17g")
    p = subprocess.run([TEST, "--predict", model, pos, out], capture_output=True, text=True)
    check.check(p.returncode == 0, "test_sgdml --predict: " + p.stderr)
    if p.returncode:
        return None, None
    a = np.array(open(out).read().split(), float).reshape(len(R), -1)
    return a[:, 0], a[:, 1:].reshape(len(R), -1, 3)


def read_ours(path):
    b = open(path, "rb").read()
    check.check(b[:8] == b"MLSGDML\n", "magic")
    ver, n, m, p, zero = struct.unpack_from("<5I", b, 8)
    sig, c, ystd = struct.unpack_from("<3d", b, 28)
    off = 52
    z = np.frombuffer(b, "<i4", n, off); off += 4 * n
    perms = np.frombuffer(b, "<i4", p * n, off).reshape(p, n); off += 4 * p * n
    d = n * (n - 1) // 2
    X = np.frombuffer(b, "<f8", m * d, off).reshape(m, d); off += 8 * m * d
    W = np.frombuffer(b, "<f8", m * d, off).reshape(m, d); off += 8 * m * d
    check.check(off + 8 == len(b), "file length matches the layout")
    # FNV-1a 64 of everything before the checksum
    h = 1469598103934665603
    for byte in b[:-8]:
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    check.check(struct.unpack_from("<Q", b, len(b) - 8)[0] == h, "checksum")
    return z, perms, sig, c, ystd, X, W


def main():
    if not os.access(TEST, os.X_OK):
        check.check(False, "no test binary %s (build it first)" % TEST)
        check.done()
    with tempfile.TemporaryDirectory() as tmp:
        for mol in ["naphthalene", "uracil"]:
            m = np.load(check.data("sgdml_models/sgdml_2018_%s.npz" % mol))
            t = np.load(check.data("rmd17/rmd17_%s_test_01.npz" % mol))
            pred = predictor(m["Rt_desc"].T, -m["Rt_d_desc_alpha"][:, :, 0],
                             m["perms"].astype(int) - 1, float(m["sig"]), float(m["c"]), 1.0)
            R = t["coords"][:40]
            E = np.array([pred(r)[0] for r in R])
            F = np.array([pred(r)[1] for r in R])
            Ec, Fc = run_c(check.data("sgdml_models/sgdml_2018_%s.npz" % mol), R, tmp)
            if Ec is None:
                continue
            # the models' coefficients are ~1e10: agreement to ~1e-7 relative
            check.close(Ec, E, 1e-6, 1e-10, "%s 2018: C energies vs numpy" % mol)
            check.close(Fc, F, 1e-5, 1e-7, "%s 2018: C forces vs numpy" % mol)
            mae = np.abs(F - t["old_forces"][:40]).mean()
            check.check(mae < 0.3, "%s 2018: numpy force MAE %.3f" % (mol, mae))

        model = os.path.join(tmp, "naph50.sgdml")
        p = subprocess.run([TEST, "--train", "rmd17/rmd17_naphthalene_train_01.npz", "50", "1", model],
                           capture_output=True, text=True, env=dict(os.environ, MLSHIFT_DATA=check.DATA))
        check.check(p.returncode == 0, "test_sgdml --train: " + p.stderr)
        if p.returncode == 0:
            z, perms, sig, c, ystd, X, W = read_ours(model)
            t = np.load(check.data("rmd17/rmd17_naphthalene_test_01.npz"))
            check.check(np.array_equal(z, t["nuclear_charges"]), "z of the model")
            check.check(sorted(map(tuple, perms)) == sorted(map(tuple, np.load(
                check.data("sgdml_models/sgdml_2018_naphthalene.npz"))["perms"].astype(int) - 1)),
                "trained permutations = sGDML's for naphthalene")
            pred = predictor(X, W, perms, sig, c, ystd)
            R = t["coords"]
            res = [pred(r) for r in R]
            E = np.array([a for a, _ in res])
            F = np.array([b for _, b in res])
            Ec, Fc = run_c(model, R[:40], tmp)
            if Ec is not None:
                check.close(Ec, E[:40], 1e-7, 1e-10, "ours: C energies vs numpy")
                check.close(Fc, F[:40], 1e-6, 1e-8, "ours: C forces vs numpy")
            fmae = np.abs(F - t["old_forces"]).mean() / KCAL * 1000
            emae = np.abs(E - t["old_energies"]).mean()
            print("numpy evaluation of our naphthalene M=50 model: force MAE %.2f meV/A, "
                  "energy MAE %.3f kcal/mol" % (fmae, emae))
            check.check(fmae <= 45.0, "naphthalene M=50 force MAE %.2f meV/A <= 45" % fmae)
    check.done()


main()
