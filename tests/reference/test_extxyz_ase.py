# SPDX-License-Identifier: MIT
"""The extxyz reader and writer against ASE 3.22 (ase.io.extxyz).

1. ASE writes random Atoms (cells or none, pbc, energies, forces, info with
   strings, ints, floats, bools, arrays); the C side reads that file and
   writes it again (test_extxyz --roundtrip); ASE reads the result: every
   value equals what ASE read from its own file, bit for bit.
2. Comment lines written by hand with ASE's quoting rules: ASE's info from
   the original and from the C round trip are the same.
3. Real files (3BPA train_300K, OC20 random1000120): ASE's energies, forces,
   positions, cells, fixed flags and per-structure mean force norms against
   the C reader's (through the round trip and the C side's own statistics).
4. Extra named columns (ms_write_extxyz_extra) as ASE reads them.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
import ase.io  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.calculators.singlepoint import SinglePointCalculator  # noqa: E402

TEST_BIN = os.path.join(os.path.dirname(os.path.abspath(check.MLSHIFT)),
                        "tests", "test_extxyz")


def roundtrip(src, dst, stats=None):
    args = [TEST_BIN, "--roundtrip", src, dst] + ([stats] if stats else [])
    p = subprocess.run(args, capture_output=True, text=True)
    check.check(p.returncode == 0, "roundtrip %s: %s" % (src, p.stderr.strip()))
    return p.returncode == 0


def same_value(a, b):
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, (np.ndarray, list, tuple)):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype.kind == b.dtype.kind and bool(np.all(a == b))
    return type(a) == type(b) and a == b


def compare_atoms(tag, A, B, info=True):
    """B (read back after the C round trip) against A (ASE's own read)."""
    check.check(len(A) == len(B), "%s: frame counts %d, %d" % (tag, len(A), len(B)))
    for i, (a, b) in enumerate(zip(A, B)):
        t = "%s frame %d" % (tag, i)
        check.check(len(a) == len(b) and np.array_equal(a.numbers, b.numbers),
                    t + ": species")
        if len(a) != len(b):
            continue
        check.close(b.positions, a.positions, 0, 0, t + ": positions")
        check.close(b.cell.array, a.cell.array, 0, 0, t + ": cell")
        check.check(np.array_equal(a.pbc, b.pbc), t + ": pbc %s %s" % (a.pbc, b.pbc))
        ea = a.calc.results.get("energy") if a.calc else None
        eb = b.calc.results.get("energy") if b.calc else None
        check.check((ea is None) == (eb is None), t + ": energy present")
        if ea is not None and eb is not None:
            check.close(b.get_potential_energy(), a.get_potential_energy(), 0, 0,
                        t + ": energy")
        fa = a.calc.results.get("forces") if a.calc else None
        fb = b.calc.results.get("forces") if b.calc else None
        check.check((fa is None) == (fb is None), t + ": forces present")
        if fa is not None and fb is not None:
            check.close(b.get_forces(), a.get_forces(), 0, 0, t + ": forces")
        if info:
            check.check(set(a.info) == set(b.info),
                        t + ": info keys %s vs %s" % (sorted(a.info), sorted(b.info)))
            for k in a.info:
                if k in b.info:
                    check.check(same_value(a.info[k], b.info[k]),
                                t + ": info[%r] %r vs %r" % (k, a.info[k], b.info[k]))


def random_atoms(rng, n_frames):
    syms = ["H", "C", "N", "O", "Cu", "Au", "Si", "Pt"]
    frames = []
    for i in range(n_frames):
        n = int(rng.integers(1, 13))
        a = Atoms(symbols=[syms[k] for k in rng.integers(0, len(syms), n)],
                  positions=rng.normal(0, 3, (n, 3)))
        if i % 2 == 0:
            a.cell = rng.normal(0, 5, (3, 3))
            a.pbc = rng.integers(0, 2, 3).astype(bool)
        a.info["name"] = "molecule %d with spaces" % i
        a.info["count"] = int(rng.integers(-100, 100))
        a.info["temp"] = float(rng.normal(300, 50))
        a.info["flag"] = bool(i % 3 == 0)
        a.info["vec"] = rng.normal(0, 1, 3)
        a.info["label"] = "plain%d" % i
        if i % 4 != 3:
            a.calc = SinglePointCalculator(a, energy=float(rng.normal(-100, 30)),
                                           forces=rng.normal(0, 2, (n, 3)))
        frames.append(a)
    return frames


def test_random(tmp):
    rng = np.random.default_rng(20240601)
    src = os.path.join(tmp, "ase_random.extxyz")
    dst = os.path.join(tmp, "c_random.extxyz")
    ase.io.write(src, random_atoms(rng, 30), format="extxyz")
    if roundtrip(src, dst):
        compare_atoms("random", ase.io.read(src, ":", format="extxyz"),
                      ase.io.read(dst, ":", format="extxyz"))


COMMENTS = [
    'a = 1 b= 2 c =3 d={x y} e=[1, 2] f=\'it is\' g=u=v k\\ ey=5',
    'j="_JSON {\\"x\\": 1}" t=T arr="1 2 3" s="say \\"hi\\"" h="" a=9',
    'Lattice="4 0 0 0 5 0 0 0 6" pbc="T F T" energy=-3.25 note="end" z=""',
    'free text with no pairs at all',
    'Properties=species:S:1:pos:R:3 stress="1 2 3 4 5 6 7 8 9" tag',
]


def test_comments(tmp):
    src = os.path.join(tmp, "comments.extxyz")
    dst = os.path.join(tmp, "c_comments.extxyz")
    with open(src, "w") as f:
        for c in COMMENTS:
            f.write("2\n%s\nH 0.5 1.25 -3\nO 1e-3 2.5E+1 .5\n" % c)
    if not roundtrip(src, dst):
        return
    A = ase.io.read(src, ":", format="extxyz")
    B = ase.io.read(dst, ":", format="extxyz")
    # Free text: ASE makes each word a True key; we drop free text (documented).
    for k in list(A[3].info):
        del A[3].info[k]
    compare_atoms("comments", A, B)


def test_real(tmp, rel, fixed_count=None):
    src = check.data(rel)
    dst = os.path.join(tmp, "c_" + os.path.basename(rel))
    stats = dst + ".stats"
    if not roundtrip(src, dst, stats):
        return
    A = ase.io.read(src, ":", format="extxyz")
    B = ase.io.read(dst, ":", format="extxyz")
    compare_atoms(rel, A, B)
    S = np.loadtxt(stats, ndmin=2)
    check.check(S.shape[0] == len(A), "%s: %d frames, ASE %d" % (rel, S.shape[0], len(A)))
    if S.shape[0] != len(A):
        return
    check.close(S[:, 0], [len(a) for a in A], 0, 0, rel + ": atoms per frame")
    check.close(S[:, 1], [a.get_potential_energy() for a in A], 1e-12, 0,
                rel + ": energies (C reader vs ASE)")
    mfn = [np.mean(np.linalg.norm(a.get_forces(), axis=1)) for a in A]
    check.close(S[:, 2], mfn, 1e-12, 1e-12, rel + ": mean force norm per structure")
    if fixed_count is not None:
        nfix = [int(np.sum(a.arrays["fixed"])) for a in A]
        check.close(S[:, 3], nfix, 0, 0, rel + ": fixed atoms (ASE's fixed array)")
        check.check(all(n == fixed_count for n in nfix),
                    "%s: %d fixed atoms per frame" % (rel, fixed_count))
        for i, (a, b) in enumerate(zip(A, B)):
            check.check(np.array_equal(a.arrays["fixed"], b.arrays["fixed"]),
                        "%s frame %d: fixed flags written back" % (rel, i))


def test_extra(tmp):
    out = os.path.join(tmp, "extra.extxyz")
    p = subprocess.run([TEST_BIN, "--write-extra", out], capture_output=True, text=True)
    check.check(p.returncode == 0, "write-extra: " + p.stderr.strip())
    if p.returncode:
        return
    F = ase.io.read(out, ":", format="extxyz")
    check.check(len(F) == 2, "extra: 2 frames")
    a = np.array([[i + c / 8.0 - 0.1 for c in range(2)] for i in range(5)])
    check.close(F[0].arrays["a"], a[:3], 0, 0, "extra: per-atom a, frame 0")
    check.close(F[1].arrays["a"], a[3:], 0, 0, "extra: per-atom a, frame 1")
    check.close(F[0].info["s"], 1 / 3, 0, 0, "extra: per-frame s, frame 0")
    check.close(F[1].info["s"], 1 / 4, 0, 0, "extra: per-frame s, frame 1")
    check.close([f.get_potential_energy() for f in F], [1, 2], 0, 0, "extra: energies")


def main():
    if not os.path.exists(TEST_BIN):
        check.check(False, "no test binary at %s (build it first)" % TEST_BIN)
        check.done()
    with tempfile.TemporaryDirectory() as tmp:
        test_random(tmp)
        test_comments(tmp)
        test_real(tmp, "3bpa/train_300K.xyz")
        test_real(tmp, "oc20/random1000120.extxyz", fixed_count=24)
        test_extra(tmp)
    check.done()


if __name__ == "__main__":
    main()
