# SPDX-License-Identifier: MIT
"""The LJ and EMT priors against ASE 3.22.1 as the independent reference.

Each case is written to extxyz by ASE, read back by ASE (so both sides see
the same decimal positions), and computed by ASE's calculator and by ours
through BUILD/tests/test_emt --dump SPEC FILE OUT (mlshift_read + the prior;
"E e", N lines "F fx fy fz", "W" and the 9 virial entries per frame).

EMT (ase.calculators.emt.EMT): clusters, fcc bulk from ase.build.bulk
(one-atom primitive cells with many images, cubic supercells), a slab,
random alloys of the seven metals with random displacements (periodic and
not, with H, C, N, O too) and every frame of the OC20 slab trajectory
random1000120 — energies, forces and the virial W = −stress·V to 1e-8
relative.
LJ (ase.calculators.lj.LennardJones): one-element clusters and periodic
bulk (cells shorter than the cutoff included) for "lj" (UFF σ, ε of the
element = LennardJones(smooth=True)) and for explicit sigma/epsilon/rc/ro
with cutoff=smooth and cutoff=shift (= smooth=False) — to 1e-10 relative.
Forces and virials are compared with an absolute floor of the tolerance
times the largest entry (they are sums of terms that cancel)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import bulk, fcc111  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402

BIN = os.path.join(os.path.dirname(check.MLSHIFT), "tests", "test_emt")
TMP = tempfile.mkdtemp(prefix="mlshift_priors_")
rng = np.random.default_rng(20240611)


def ours(spec, path):
    """[(energy, forces (N, 3), virial (3, 3))] per frame of path, or None."""
    out = os.path.join(TMP, "out.txt")
    p = subprocess.run([BIN, "--dump", spec, path, out], capture_output=True, text=True)
    if p.returncode != 0:
        check.check(False, "%s on %s: dump failed (%d): %s" % (spec, path, p.returncode, p.stderr.strip()))
        return None
    frames = []
    with open(out) as f:
        for line in f:
            w = line.split()
            if w[0] == "E":
                frames.append([float(w[1]), [], None])
            elif w[0] == "F":
                frames[-1][1].append([float(x) for x in w[1:4]])
            elif w[0] == "W":
                frames[-1][2] = np.array([float(x) for x in w[1:10]]).reshape(3, 3)
    return [(e, np.array(F).reshape(-1, 3), W) for e, F, W in frames]


def roundtrip(images, name):
    path = os.path.join(TMP, name + ".extxyz")
    write(path, images, format="extxyz")
    return path, read(path, ":", format="extxyz")


def compare(spec, images, name, make_calc, rtol):
    path, back = roundtrip(images, name)
    got = ours(spec, path)
    if got is None:
        return
    check.check(len(got) == len(back), "%s: %d frames, want %d" % (name, len(got), len(back)))
    for k, (atoms, (e, F, W)) in enumerate(zip(back, got)):
        atoms.calc = make_calc()
        e_ref = atoms.get_potential_energy()
        F_ref = atoms.get_forces()
        what = "%s %s frame %d" % (spec, name, k)
        check.close(e, e_ref, 1e-12, rtol, what + ": energy")
        check.close(F, F_ref, rtol * max(1.0, np.abs(F_ref).max()), rtol, what + ": forces")
        if atoms.cell.rank == 3 and atoms.pbc.any():
            s = atoms.get_stress(voigt=False)
            W_ref = -s * atoms.get_volume()
            check.close(W, W_ref, rtol * max(1.0, np.abs(W_ref).max()), rtol, what + ": virial")


def rattle(atoms, amp):
    atoms = atoms.copy()
    atoms.positions += rng.uniform(-amp, amp, atoms.positions.shape)
    return atoms


def random_alloy(symbols, size, a, amp, pbc=True):
    atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat(size)
    atoms.set_chemical_symbols(rng.choice(symbols, len(atoms)))
    atoms = rattle(atoms, amp)
    atoms.pbc = pbc
    return atoms


# ------------------------------------------------------------------- EMT

metals = ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"]
emt_cases = {
    "clusters": [
        rattle(Icosahedron("Cu", 3), 0.1),
        rattle(Icosahedron("Au", 2), 0.2),
        Atoms("CuAu", positions=[[0, 0, 0], [2.6, 0.1, -0.2]]),
        Atoms("Pt", positions=[[1, 2, 3]]),
        random_alloy(metals, (2, 2, 2), 3.9, 0.3, pbc=False),
        random_alloy(metals + ["H", "C", "N", "O"], (2, 2, 1), 3.9, 0.4, pbc=False),
    ],
    "fcc_bulk": [bulk(m) for m in metals]
    + [rattle(bulk("Cu", cubic=True).repeat(2), 0.1),
       rattle(bulk("Au", "fcc", a=4.2, cubic=True).repeat((3, 2, 2)), 0.15),
       rattle(bulk("Ni", "fcc", a=3.52).repeat((2, 1, 3)), 0.1)],
    "alloys": [random_alloy(["Cu", "Au", "Pt"], (3, 3, 3), 3.9, 0.2),
               random_alloy(metals, (2, 2, 2), 3.95, 0.3),
               random_alloy(["Cu", "Au", "Pt", "O", "C", "H"], (2, 2, 2), 3.9, 0.3)],
    "slab": [rattle(fcc111("Pt", (2, 2, 4), vacuum=6.0), 0.1)],
}
for name, images in emt_cases.items():
    compare("emt", images, name, EMT, 1e-8)

# the OC20 slab trajectory, every frame, read from the file itself
oc20 = check.data("oc20/random1000120.extxyz")
got = ours("emt", oc20)
frames = read(oc20, ":")
if got is not None:
    check.check(len(got) == len(frames), "oc20: %d frames, want %d" % (len(got), len(frames)))
    worst = 0.0
    for k, (atoms, (e, F, W)) in enumerate(zip(frames, got)):
        atoms.calc = EMT()
        e_ref = atoms.get_potential_energy()
        F_ref = atoms.get_forces()
        W_ref = -atoms.get_stress(voigt=False) * atoms.get_volume()
        what = "emt oc20 random1000120 frame %d" % k
        check.close(e, e_ref, 1e-12, 1e-8, what + ": energy")
        check.close(F, F_ref, 1e-8 * max(1.0, np.abs(F_ref).max()), 1e-8, what + ": forces")
        check.close(W, W_ref, 1e-8 * max(1.0, np.abs(W_ref).max()), 1e-8, what + ": virial")
        worst = max(worst, abs(e - e_ref) / abs(e_ref), np.abs(F - F_ref).max())
    print("oc20 random1000120: %d frames, worst energy rel./force abs. difference %.3g" % (len(frames), worst))

# an element EMT lacks is an error naming it
path, _ = roundtrip([Atoms("CuFe", positions=[[0, 0, 0], [2.5, 0, 0]])], "fe")
p = subprocess.run([BIN, "--dump", "emt", path, os.path.join(TMP, "x.txt")], capture_output=True, text=True)
check.check(p.returncode != 0 and "Fe" in p.stderr, "emt on Fe: %r" % p.stderr)

# -------------------------------------------------------------------- LJ

UFF = {"Ar": (3.868, 0.185), "Cu": (3.495, 0.005), "C": (3.851, 0.105), "Au": (3.293, 0.039)}


def uff(sym):
    x, D = UFF[sym]
    return x / 2 ** (1 / 6), D / 23.0605


lj_cases = []
for sym in ("Ar", "Cu", "C"):
    sigma, eps = uff(sym)
    a = 1.55 * sigma  # fcc near the LJ minimum
    cluster = Icosahedron(sym, 3, latticeconstant=2 ** (1 / 6) * sigma * 2 ** 0.5)
    lj_cases.append((sym, "cluster", [rattle(cluster, 0.05 * sigma)], sigma, eps))
    lj_cases.append((sym, "bulk", [rattle(bulk(sym, "fcc", a=a, cubic=True).repeat(2), 0.05 * sigma),
                                   rattle(bulk(sym, "fcc", a=a), 0.0),  # rc > cell: many images
                                   rattle(bulk(sym, "fcc", a=a).repeat((2, 1, 3)), 0.05 * sigma)],
                     sigma, eps))
for sym, name, images, sigma, eps in lj_cases:
    # default "lj": UFF parameters of the element, smooth cutoff at 3 sigma
    compare("lj", images, "%s_%s" % (sym, name),
            lambda: LennardJones(sigma=sigma, epsilon=eps, smooth=True), 1e-10)
    rc = 2.5 * sigma
    spec = "lj:sigma=%.17g,epsilon=%.17g,rc=%.17g,cutoff=shift" % (sigma, eps, rc)
    compare(spec, images, "%s_%s_shift" % (sym, name),
            lambda: LennardJones(sigma=sigma, epsilon=eps, rc=rc, smooth=False), 1e-10)
    spec = "lj:sigma=%.17g,epsilon=%.17g,rc=%.17g,ro=%.17g,cutoff=smooth" % (sigma, eps, 3.2 * sigma, 2.1 * sigma)
    compare(spec, images, "%s_%s_smooth_ro" % (sym, name),
            lambda: LennardJones(sigma=sigma, epsilon=eps, rc=3.2 * sigma, ro=2.1 * sigma, smooth=True), 1e-10)

check.done()
