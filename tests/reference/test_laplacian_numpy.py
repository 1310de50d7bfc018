# SPDX-License-Identifier: MIT
"""Normalised-Laplacian spectra against numpy (eigvalsh of L built here):
real rMD17 frames at several cutoffs and random clusters with isolated
atoms, to 1e-10."""
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


def ours(pos, rc):
    p = os.path.join(tmp, "pos.txt")
    np.savetxt(p, pos, fmt="%.17g")
    r = subprocess.run([exe, "--dump", p, repr(rc)], capture_output=True, text=True)
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
done()
