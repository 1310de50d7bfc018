# SPDX-License-Identifier: MIT
"""Neighbour lists against ASE's neighbor_list('ijSd') as an independent
reference: random triclinic cells (unwrapped positions, every pbc pattern,
cutoffs longer than the cell), a molecule without a cell, and OC20 first
frames as periodic cells and as slabs. Our edges come from the C test binary's
dump mode (BUILD/tests/test_neighbours --dump POSFILE CUTOFF OUT [half]).
The sets of (i, j, S) must be equal, the distances agree to 1e-10 Å, and the
half list must be the full list's edges with i < j, or i == j and S
lexicographically positive."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.io import read  # noqa: E402
from ase.neighborlist import neighbor_list  # noqa: E402

BIN = os.path.join(os.path.dirname(check.MLSHIFT), "tests", "test_neighbours")
TMP = tempfile.mkdtemp(prefix="mlshift_nl_")


def ours(positions, cell, pbc, cutoff, half=False):
    """Edges of the C build as {(i, j, S0, S1, S2): dist}, or None."""
    pf = os.path.join(TMP, "pos.txt")
    out = os.path.join(TMP, "edges.txt")
    with open(pf, "w") as f:
        f.write("%d\n" % len(positions))
        if cell is None:
            f.write("none\n")
        else:
            f.write(" ".join("%.17g" % x for x in np.asarray(cell).ravel()) + "\n")
        f.write("%d %d %d\n" % tuple(int(bool(p)) for p in pbc))
        for r in positions:
            f.write("%.17g %.17g %.17g\n" % tuple(r))
    args = [BIN, "--dump", pf, "%.17g" % cutoff, out] + (["half"] if half else [])
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        check.check(False, "dump failed (%d): %s" % (p.returncode, p.stderr.strip()))
        return None
    edges = {}
    with open(out) as f:
        for line in f:
            w = line.split()
            edges[tuple(int(x) for x in w[:5])] = float(w[5])
    return edges


def reference(atoms, cutoff):
    i, j, S, d = neighbor_list("ijSd", atoms, cutoff, self_interaction=False)
    return {(int(a), int(b), int(s[0]), int(s[1]), int(s[2])): float(x)
            for a, b, s, x in zip(i, j, S, d)}


def lexpos(s):
    for x in s:
        if x != 0:
            return x > 0
    return False


def compare(name, atoms, cutoff, cell_for_c="atoms"):
    cell = np.array(atoms.cell) if cell_for_c == "atoms" else cell_for_c
    ref = reference(atoms, cutoff)
    got = ours(atoms.positions, cell, atoms.pbc, cutoff)
    if got is None:
        return
    missing = set(ref) - set(got)
    extra = set(got) - set(ref)
    check.check(not missing and not extra and len(got) == len(ref),
                "%s rc=%g: %d edges, ASE %d; missing %s, extra %s"
                % (name, cutoff, len(got), len(ref), sorted(missing)[:3],
                   sorted(extra)[:3]))
    worst = max((abs(got[k] - ref[k]) for k in set(got) & set(ref)), default=0.0)
    check.check(worst <= 1e-10, "%s rc=%g: distances differ from ASE by %g"
                % (name, cutoff, worst))
    half = ours(atoms.positions, cell, atoms.pbc, cutoff, half=True)
    if half is None:
        return
    want = {k for k in ref if k[0] < k[1] or (k[0] == k[1] and lexpos(k[2:]))}
    check.check(set(half) == want and len(ref) == 2 * len(half),
                "%s rc=%g half: %d edges, want %d (full %d)"
                % (name, cutoff, len(half), len(want), len(ref)))


def random_cell(rng):
    """A triclinic cell with angles well away from 90°, lengths 2–9 Å."""
    while True:
        m = rng.normal(size=(3, 3)) * 3.0 + np.diag(rng.uniform(2, 6, 3))
        vol = np.linalg.det(m)
        if vol > 0.15 * np.prod(np.linalg.norm(m, axis=1)):
            return m


def main():
    if not os.path.exists(BIN):
        check.check(False, "no test binary at %s (build it first)" % BIN)
        check.done()
    rng = np.random.default_rng(20240611)
    patterns = [(1, 1, 1), (1, 1, 0), (1, 0, 0), (0, 1, 1), (0, 0, 1), (0, 0, 0)]
    for t in range(12):
        cell = random_cell(rng)
        pbc = patterns[t % len(patterns)]
        n = int(rng.integers(1, 40))
        frac = rng.uniform(0, 1, (n, 3))
        for k in range(3):  # unwrap along periodic axes
            if pbc[k]:
                frac[:, k] += rng.integers(-2, 3, n)
        atoms = Atoms("H%d" % n, scaled_positions=frac % 1.0, cell=cell, pbc=pbc)
        atoms.positions = frac @ cell
        widths = np.abs(np.linalg.det(cell)) / np.linalg.norm(
            np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        for cutoff in (0.6 * widths.min(), 1.7 * widths.max()):
            compare("random cell %d pbc %s N=%d" % (t, pbc, n), atoms, cutoff)
    # A molecule without a cell.
    for n in (30, 150):  # the direct path, and the cell list
        pos = rng.uniform(-4, 4, (n, 3)) * (n / 30) ** (1 / 3)
        mol = Atoms("C%d" % n, positions=pos)
        for cutoff in (2.0, 5.0):
            compare("molecule without cell N=%d" % n, mol, cutoff, cell_for_c=None)
    # One atom, cutoff 3 × the cell: many self-images.
    one = Atoms("Cu", positions=[[0.3, -0.2, 0.1]],
                cell=[[2.0, 0, 0], [0.7, 1.9, 0], [0.4, 0.5, 2.1]], pbc=True)
    compare("one-atom cell", one, 6.3)
    # OC20 first frames, periodic and as slabs.
    for sid in ("1000100", "1000142", "1000163"):
        path = check.data("oc20/random%s.extxyz" % sid)
        atoms = read(path, index=0)
        check.check(all(atoms.pbc), "%s: pbc in the file is T T T" % path)
        for cutoff in (6.0, 10.0):
            compare("oc20 %s T T T" % sid, atoms, cutoff)
            slab = atoms.copy()
            slab.pbc = (True, True, False)
            compare("oc20 %s T T F" % sid, slab, cutoff)
    check.done()


if __name__ == "__main__":
    main()
