# SPDX-License-Identifier: MIT
"""numpy is the reference for the npz reader.

For real rMD17 files (both label sets) and for npz files numpy writes here
(np.savez stored members and np.savez_compressed DEFLATE members; both
layouts; float64, float32, big-endian and Fortran-order arrays), the values
mlshift reads must equal numpy's `coords`, `energies / 23.0605` and
`forces / 23.0605` bit for bit (float64 bytes compared). Our values come out
of the C test binary's dump mode:
    <build>/tests/test_npz --dump FILE.npz OUTDIR [--old]
which writes positions.bin, forces.bin, energies.bin, numbers.bin (float64)
and info.txt ("flags natoms info" per frame)."""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

KCAL = 23.0605
BUILD = os.path.dirname(os.path.abspath(check.MLSHIFT))
TEST_NPZ = os.path.join(BUILD, "tests", "test_npz")
HAS_E, HAS_F = 1, 2


def dump(path, outdir, old=False):
    """Our reading of `path`: a dict of arrays, or the error line."""
    args = [TEST_NPZ, "--dump", path, outdir] + (["--old"] if old else [])
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        return (p.stdout + p.stderr).strip()
    out = {k: np.fromfile(os.path.join(outdir, k + ".bin"), dtype="<f8")
           for k in ("positions", "forces", "energies", "numbers")}
    flags, natoms, info = [], [], []
    with open(os.path.join(outdir, "info.txt")) as f:
        for line in f:
            a, b, c = line.rstrip("\n").split(" ", 2)
            flags.append(int(a))
            natoms.append(int(b))
            info.append(dict(kv.split("=", 1) for kv in c.split()))
    out["flags"] = np.array(flags)
    out["natoms"] = np.array(natoms)
    out["info"] = info
    return out


def same_bits(got, want, msg):
    """float64 arrays identical byte for byte (reports the first difference)."""
    got = np.ascontiguousarray(got, dtype="<f8").ravel()
    want = np.ascontiguousarray(want, dtype="<f8").ravel()
    if got.shape != want.shape:
        check.check(False, "%s: %d values, want %d" % (msg, got.size, want.size))
        return
    ok = got.tobytes() == want.tobytes()
    if not ok:
        i = int(np.nonzero(got.view("<u8") != want.view("<u8"))[0][0])
        msg += ": first difference at %d: got %r, want %r" % (i, got[i], want[i])
    check.check(ok, msg)


def compare(ours, z, R, E, F, idx, msg):
    """ours vs numpy arrays (E/F may be None, idx None for the sGDML layout)."""
    if isinstance(ours, str):
        check.check(False, "%s: read failed: %s" % (msg, ours))
        return
    M, N = R.shape[0], R.shape[1]
    check.check(len(ours["natoms"]) == M and np.all(ours["natoms"] == N),
                "%s: %d frames of %d atoms" % (msg, M, N))
    same_bits(ours["numbers"], np.tile(np.asarray(z, dtype=np.float64), M), msg + ": numbers")
    same_bits(ours["positions"], np.asarray(R, dtype=np.float64), msg + ": positions")
    if E is not None:
        same_bits(ours["energies"], np.asarray(E, dtype=np.float64).reshape(M) / KCAL,
                  msg + ": energies / 23.0605")
        check.check(np.all(ours["flags"] & HAS_E), msg + ": energy flags")
    else:
        check.check(np.all(np.isnan(ours["energies"])) and not np.any(ours["flags"] & HAS_E),
                    msg + ": no energies")
    if F is not None:
        same_bits(ours["forces"], np.asarray(F, dtype=np.float64) / KCAL,
                  msg + ": forces / 23.0605")
        check.check(np.all(ours["flags"] & HAS_F), msg + ": force flags")
    else:
        check.check(not np.any(ours["flags"] & HAS_F), msg + ": no forces")
    check.check([int(d["index"]) for d in ours["info"]] == list(range(M)),
                msg + ": info index=K")
    if idx is not None:
        check.check([int(d["old_index"]) for d in ours["info"]] == [int(i) for i in idx],
                    msg + ": info old_index = old_indices")
    else:
        check.check(all("old_index" not in d for d in ours["info"]), msg + ": no old_index")


def test_rmd17(tmp):
    files = ["rmd17_aspirin_train_01", "rmd17_benzene_test_03", "rmd17_uracil_train_05",
             "rmd17_naphthalene_test_01", "rmd17_toluene_train_02"]
    for name in files:
        path = check.data("rmd17/%s.npz" % name)
        d = np.load(path)
        for old in (False, True):
            e, f = ("old_energies", "old_forces") if old else ("energies", "forces")
            ours = dump(path, os.path.join(tmp, "%s_%d" % (name, old)), old)
            compare(ours, d["nuclear_charges"], d["coords"], d[e], d[f], d["old_indices"],
                    "%s%s" % (name, " (old labels)" if old else ""))
        # The two label sets really differ (and so our two readings do).
        check.check(not np.array_equal(d["energies"], d["old_energies"]),
                    name + ": old and new energies differ in numpy")


def test_numpy_written(tmp):
    rng = np.random.default_rng(20240611)
    M, N = 7, 5
    z = np.array([6, 1, 1, 8, 7], dtype=np.uint8)
    R = rng.normal(scale=2.0, size=(M, N, 3))
    E = rng.normal(loc=-40000.0, scale=50.0, size=M)
    F = rng.normal(scale=30.0, size=(M, N, 3))
    Eo = E + rng.normal(size=M)
    Fo = F + rng.normal(size=(M, N, 3))
    idx = rng.integers(0, 200000, size=M)
    k = 0
    for save in (np.savez, np.savez_compressed):
        for dt in ("<f8", "<f4", ">f8", ">f4"):
            for fortran in (False, True):
                cast = (lambda a: np.asfortranarray(a.astype(dt))) if fortran else \
                    (lambda a: np.ascontiguousarray(a.astype(dt)))
                tag = "%s %s%s" % (save.__name__, dt, " fortran" if fortran else "")
                # rMD17 layout, both label sets.
                p = os.path.join(tmp, "r%d.npz" % k)
                save(p, nuclear_charges=z, coords=cast(R), energies=cast(E), forces=cast(F),
                     old_indices=idx, old_energies=cast(Eo), old_forces=cast(Fo))
                d = np.load(p)
                for old in (False, True):
                    e, f = ("old_energies", "old_forces") if old else ("energies", "forces")
                    ours = dump(p, os.path.join(tmp, "r%d_%d" % (k, old)), old)
                    compare(ours, z, d["coords"], d[e], d[f], idx,
                            "rMD17 %s%s" % (tag, " old" if old else ""))
                # sGDML layout, E as (M, 1), z as int64, an extra string key.
                p = os.path.join(tmp, "s%d.npz" % k)
                save(p, z=z.astype(np.int64), R=cast(R), E=cast(E[:, None]), F=cast(F),
                     name=np.array("benzene"), theory=np.array("PBE"))
                d = np.load(p)
                compare(dump(p, os.path.join(tmp, "s%d" % k)), z, d["R"], d["E"], d["F"],
                        None, "sGDML %s" % tag)
                k += 1
    # Positions only (no labels) read; the bits of float32 positions too.
    p = os.path.join(tmp, "geom.npz")
    np.savez(p, z=z, R=R.astype(np.float32))
    compare(dump(p, os.path.join(tmp, "geom")), z, R.astype(np.float32), None, None, None,
            "sGDML positions only")


def test_errors(tmp):
    z = np.array([6, 1], dtype=np.uint8)
    R = np.zeros((3, 2, 3))
    cases = [
        ("missing R", dict(z=z, E=np.zeros(3)), "missing field", ":R"),
        ("forces shape", dict(z=z, R=R, F=np.zeros((3, 3, 3))), "(3, 3, 3)", "(3, 2, 3)"),
        ("energy shape", dict(z=z, R=R, E=np.zeros(4)), "(4,)", ":E"),
        ("string coords", dict(nuclear_charges=z, coords=np.array(["a", "b"])), "unsupported",
         ":coords"),
        ("object coords", dict(nuclear_charges=z, coords=np.array([None, 1], dtype=object)),
         "unsupported", "'|O'"),
        ("NaN forces", dict(z=z, R=R, F=np.full((3, 2, 3), np.nan)), "invalid value", ":F"),
        ("Z=0", dict(z=np.array([6, 0]), R=R), "invalid value", ":z"),
        ("no layout", dict(a=np.zeros(2)), "rMD17", "keys present: a"),
        ("labels_old without old_*", dict(nuclear_charges=z, coords=R), "old_energies", "--old"),
    ]
    for k, (what, arrays, n1, n2) in enumerate(cases):
        p = os.path.join(tmp, "bad%d.npz" % k)
        np.savez(p, **arrays)
        old = n2 == "--old"
        got = dump(p, os.path.join(tmp, "bad%d" % k), old)
        ok = isinstance(got, str) and got.startswith("error:") and p in got and n1 in got \
            and (old or n2 in got)
        check.check(ok, "%s: want an error naming %r, %r; got %r" % (what, n1, n2, got))
    # Not a zip at all; a zip that is not an npz.
    p = os.path.join(tmp, "text.npz")
    with open(p, "w") as f:
        f.write("not a zip\n")
    got = dump(p, os.path.join(tmp, "text"))
    check.check(isinstance(got, str) and "not a zip" in got, "text file: %r" % (got,))
    import zipfile
    p = os.path.join(tmp, "plain.npz")
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hello.txt", "hello")
    got = dump(p, os.path.join(tmp, "plain"))
    check.check(isinstance(got, str) and "no .npy members" in got, "plain zip: %r" % (got,))


def main():
    if not os.access(TEST_NPZ, os.X_OK):
        check.check(False, "%s not built" % TEST_NPZ)
        check.done()
    with tempfile.TemporaryDirectory() as tmp:
        test_rmd17(tmp)
        test_numpy_written(tmp)
        test_errors(tmp)
    check.done()


if __name__ == "__main__":
    main()
