# SPDX-License-Identifier: MIT
"""h5py is the reference for the HDF5 reader.

For every frame of the three samples (SPICE, ANI-1x at two levels, ANI-2x),
the positions, energies and forces that mlshift reads (dumped by
`test_hdf5 --dump FILE DIR [LEVEL]` as raw float64) equal h5py's values with
the same conversions to 1e-12 relative; atomic numbers, group order and the
info values (name, conf, smiles, subset) match too. Absent labels (ANI-1x NaN
or a missing dataset) are NaN in the dump and must be NaN or absent in h5py.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

BOHR = 0.529177210903         # Å per bohr, CODATA 2018
HARTREE = 27.211386245988     # eV per hartree, CODATA 2018

BUILD = os.path.dirname(os.path.abspath(check.MLSHIFT))
TEST_BIN = os.path.join(BUILD, "tests", "test_hdf5")


def decode(x):
    x = x[()] if hasattr(x, "shape") else x
    if isinstance(x, np.ndarray):
        x = x.reshape(-1)[0]
    return x.decode() if isinstance(x, bytes) else str(x)


def molecule_groups(group, prefix=""):
    """Groups holding datasets, depth first in h5py's (name) order."""
    out = []
    has_data = any(isinstance(group[k], h5py.Dataset) for k in group)
    if has_data:
        out.append((prefix or "/", group))
    for k in group:
        if isinstance(group[k], h5py.Group):
            out += molecule_groups(group[k], prefix + ("/" if prefix else "") + k)
    return out


def reference(path, level):
    """Frames as h5py reads them, converted to Å, eV, eV/Å."""
    frames = []
    with h5py.File(path, "r") as f:
        for name, g in molecule_groups(f):
            smiles = decode(g["smiles"]) if "smiles" in g else ""
            subset = decode(g["subset"]) if "subset" in g else ""
            if "conformations" in g:            # SPICE: bohr, hartree/bohr
                R = g["conformations"][()].astype(np.float64) * BOHR
                Z = np.broadcast_to(g["atomic_numbers"][()], R.shape[:2])
                E = g["dft_total_energy"][()].astype(np.float64) * HARTREE
                F = -g["dft_total_gradient"][()].astype(np.float64) * HARTREE / BOHR
            elif "species" in g:                # ANI-2x: Å, hartree/Å
                R = g["coordinates"][()].astype(np.float64)
                Z = g["species"][()]
                E = g["energies"][()].astype(np.float64) * HARTREE
                F = g["forces"][()].astype(np.float64) * HARTREE
            else:                               # ANI-1x at `level`
                R = g["coordinates"][()].astype(np.float64)
                Z = np.broadcast_to(g["atomic_numbers"][()], R.shape[:2])
                ek, fk = level + ".energy", level + ".forces"
                E = g[ek][()].astype(np.float64) * HARTREE if ek in g \
                    else np.full(len(R), np.nan)
                F = g[fk][()].astype(np.float64) * HARTREE if fk in g \
                    else np.full(R.shape, np.nan)
            for k in range(len(R)):
                frames.append(dict(name=name, conf=str(k), smiles=smiles,
                                   subset=subset, Z=Z[k], R=R[k], E=E[k],
                                   F=F[k] if not np.all(np.isnan(F[k])) else
                                   np.full(R[k].shape, np.nan)))
    return frames


def dumped(path, level, tmp):
    args = [TEST_BIN, "--dump", path, tmp] + ([level] if level else [])
    p = subprocess.run(args, capture_output=True, text=True)
    check.check(p.returncode == 0, "%s: dump failed: %s" % (path, p.stderr.strip()))
    if p.returncode != 0:
        return None

    def load(name):
        return np.fromfile(os.path.join(tmp, name + ".bin"), dtype="<f8")
    nat = load("natoms").astype(int)
    with open(os.path.join(tmp, "info.txt")) as fh:
        info = [line.rstrip("\n").split("\t") for line in fh]
    return dict(nat=nat, Z=load("numbers"), R=load("positions").reshape(-1, 3),
                E=load("energy"), F=load("forces").reshape(-1, 3), info=info)


def compare(label, path, level=None, want_frames=None):
    ref = reference(path, level or "wb97x_dz")
    with tempfile.TemporaryDirectory() as tmp:
        got = dumped(path, level, tmp)
    if got is None:
        return
    n = len(got["nat"])
    check.check(n == len(ref), "%s: %d frames, h5py %d" % (label, n, len(ref)))
    if want_frames is not None:
        check.check(n == want_frames, "%s: %d frames, want %d" % (label, n, want_frames))
    if n != len(ref):
        return
    off = np.concatenate([[0], np.cumsum(got["nat"])])
    check.check([len(r["Z"]) for r in ref] == list(got["nat"]),
                "%s: atom counts differ" % label)
    check.check(np.array_equal(np.concatenate([r["Z"] for r in ref]), got["Z"]),
                "%s: atomic numbers differ" % label)
    R = np.concatenate([r["R"] for r in ref])
    F = np.concatenate([r["F"] for r in ref])
    E = np.array([r["E"] for r in ref])
    check.close(got["R"], R, 0, 1e-12, "%s: positions" % label)
    # Absent labels: NaN on both sides; present ones equal to 1e-12.
    check.check(np.array_equal(np.isnan(got["E"]), np.isnan(E)),
                "%s: frames with energy differ" % label)
    check.check(np.array_equal(np.isnan(got["F"]), np.isnan(F)),
                "%s: frames with forces differ" % label)
    e_ok, f_ok = ~np.isnan(E), ~np.isnan(F)
    check.close(got["E"][e_ok], E[e_ok], 0, 1e-12, "%s: energies" % label)
    check.close(got["F"][f_ok], F[f_ok], 0, 1e-12, "%s: forces" % label)
    bad = [i for i, r in enumerate(ref)
           if got["info"][i] != [r["name"], r["conf"], r["smiles"], r["subset"]]]
    check.check(not bad, "%s: info of frame %s: %s, h5py %s" % (
        label, bad[:1], got["info"][bad[0]] if bad else "",
        [ref[bad[0]][k] for k in ("name", "conf", "smiles", "subset")] if bad else ""))
    check.check(off[-1] == len(got["Z"]), "%s: dump sizes" % label)
    return got


def main():
    if not os.path.exists(TEST_BIN):
        check.check(False, "no test binary %s (make %s)" % (TEST_BIN, TEST_BIN))
        check.done()
    compare("spice", check.data("spice/SPICE-1.1.4_n2.hdf5"), want_frames=55)
    compare("ani1x", check.data("ani1x/ani1x_format_n5.hdf5"), want_frames=8)
    got = compare("ani1x ccsd(t)_cbs", check.data("ani1x/ani1x_format_n5.hdf5"),
                  "ccsd(t)_cbs", want_frames=8)
    if got is not None:
        check.check(int(np.isnan(got["E"]).sum()) == 2,
                    "ani1x ccsd(t)_cbs: %d absent energies, want 2"
                    % int(np.isnan(got["E"]).sum()))
        check.check(bool(np.all(np.isnan(got["F"]))),
                    "ani1x ccsd(t)_cbs: forces present")
    compare("ani1x wb97x_tz", check.data("ani1x/ani1x_format_n5.hdf5"),
            "wb97x_tz", want_frames=8)
    compare("ani2x", check.data("ani1x/ani2x_minimal.hdf5"), want_frames=5706)
    check.done()


if __name__ == "__main__":
    main()
