# SPDX-License-Identifier: MIT
"""Normalised-Laplacian spectra against numpy (eigvalsh of L built here):
real rMD17 frames at several cutoffs, random clusters with isolated
atoms, and a 600-atom packing through both LAPACK paths, to 1e-10."""
import os
import subprocess
import tempfile

import numpy as np

from check import check, close, data, done, MLSHIFT

exe = os.path.join(os.path.dirname(MLSHIFT), "tests", "test_laplacian")
tmp = tempfile.mkdtemp(prefix="mlshift-lap-")


def numpy_spectrum(pos, rc):
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    A = ((d > 0) & (d <= rc)).astype(float)
    deg = A.sum(1)
    dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    L = np.eye(len(pos)) - dinv[:, None] * A * dinv[None, :]
    return np.linalg.eigvalsh(L)


def ours(pos, rc, two_stage_min=None, single_min=None):
    p = os.path.join(tmp, "pos.txt")
    np.savetxt(p, pos, fmt="%.17g")
    extra = [] if two_stage_min is None else [str(two_stage_min)]
    if single_min is not None:
        extra = [str(2000 if two_stage_min is None else two_stage_min), str(single_min)]
    r = subprocess.run([exe, "--dump", p, repr(rc)] + extra, capture_output=True, text=True)
    return np.array([float(x) for x in r.stdout.split()])


for mol in ("aspirin", "naphthalene", "uracil"):
    R = np.load(data("rmd17/rmd17_%s_train_01.npz" % mol))["coords"]
    for k in (0, 500):
        for rc in (1.2, 3.0, 5.0, 9.0):
            close(ours(R[k], rc), numpy_spectrum(R[k], rc), 1e-10, 0,
                  "%s frame %d at %.1f Å" % (mol, k, rc))
rng = np.random.default_rng(7)
for n in (2, 5, 17, 40):
    pos = rng.uniform(0, 6, size=(n, 3))
    for rc in (1.0, 2.5):
        close(ours(pos, rc), numpy_spectrum(pos, rc), 1e-10, 0,
              "random cluster n=%d at %.1f Å" % (n, rc))
# The large-n paths: 600 atoms of a random packing at liquid density (0.1
# atoms/Å³, no pair closer than 1 Å), beyond the small-molecule solver, with
# dsyevd (the default below 2000 atoms) and with dsyevd_2stage (the size
# from which it is used lowered to 0); at 5 Å ~50 neighbours each.
side = (600 / 0.1) ** (1 / 3)
pos = np.empty((0, 3))
while len(pos) < 600:
    p = rng.uniform(0, side, size=3)
    if len(pos) == 0 or np.min(np.linalg.norm(pos - p, axis=1)) >= 1.0:
        pos = np.vstack([pos, p])
for rc in (2.0, 5.0):
    want = numpy_spectrum(pos, rc)
    for two_stage_min, path in ((None, "dsyevd"), (0, "dsyevd_2stage")):
        close(ours(pos, rc, two_stage_min), want, 1e-10, 0,
              "600-atom packing at %.1f Å, %s" % (rc, path))
    # Single precision (the default from 2000 atoms, lowered to 0 here):
    # backward stable in float, |Δλ| <~ n·ε_f·‖L‖ = 600·6e-8·2 ≈ 7e-5.
    close(ours(pos, rc, None, 0), want, 7e-5, 0,
          "600-atom packing at %.1f Å, ssyevd_2stage" % rc)
done()
