# SPDX-License-Identifier: MIT
"""mlshift relax against ASE 3.22's optimisers, step for step.

ase.optimize.FIRE and ase.optimize.BFGS with their defaults on a perturbed
Cu13 icosahedron with EMT and a perturbed Ar55 icosahedron with
Lennard-Jones (the "lj" prior = ASE's LennardJones with the UFF Ar
sigma/epsilon, smooth cutoff), from the same start (an extxyz ASE wrote,
read back by ASE so both see the same decimals), fmax 0.05: every frame's
positions to 1e-8 Å over the first 20 steps, energies to 1e-8 eV there,
the same number of steps to converge, and the final energies. Also Cu13
with three atoms fixed (ASE's FixAtoms), the trajectory read by ASE, the
JSON summary, a run cut short by --steps, and bad input (exit 2, nothing
written)."""
import json
import os
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

np = check.require("numpy", "python3-numpy")
check.require("ase", "python3-ase")
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.constraints import FixAtoms  # noqa: E402
from ase.io import read, write  # noqa: E402
from ase.optimize import BFGS, FIRE  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_relax_")
STEPFOR = 20


def start_file(name, atoms, amp, seed, fixed=None):
    atoms = atoms.copy()
    atoms.rattle(amp, seed=seed)
    if fixed:
        atoms.set_constraint(FixAtoms(indices=fixed))
    path = os.path.join(TMP, name + "_start.extxyz")
    if fixed:  # ASE 3.22 writes the move_mask column only when asked
        write(path, atoms, columns=["symbols", "positions", "move_mask"])
    else:
        write(path, atoms)
    return path


def ase_relax(path, calc, opt):
    atoms = read(path)
    atoms.calc = calc
    dyn = (FIRE if opt == "fire" else BFGS)(atoms, logfile=None)
    frames = []

    def record():
        frames.append((atoms.get_positions().copy(), atoms.get_potential_energy()))
    dyn.attach(record, interval=1)
    dyn.run(fmax=0.05, steps=1000)
    return frames, dyn.get_number_of_steps()


def compare(name, spec, calc, atoms, amp, seed, fixed=None):
    start = start_file(name, atoms, amp, seed, fixed)
    for opt in ("fire", "bfgs"):
        tag = "%s %s" % (name, opt)
        out = os.path.join(TMP, "%s_%s.extxyz" % (name, opt))
        r = check.run("relax", "--prior", spec, start, "--optimizer", opt, "--fmax", "0.05",
                      "-o", out, "--quiet")
        check.check(r[0] == 0, "%s: exit %d: %s" % (tag, r[0], r[2]))
        if r[0] != 0:
            continue
        summary = json.loads(r[1])
        ref, nsteps = ase_relax(start, calc, opt)
        got = read(out, ":")
        check.check(summary["steps"] == nsteps and summary["converged"],
                    "%s: %d steps (converged %r), ASE %d" % (tag, summary["steps"],
                                                              summary["converged"], nsteps))
        check.check(len(got) == len(ref) == nsteps + 1, "%s: %d frames, ASE %d"
                    % (tag, len(got), len(ref)))
        k = min(STEPFOR, len(got), len(ref))
        worst = max(np.abs(got[i].get_positions() - ref[i][0]).max() for i in range(k))
        check.check(worst <= 1e-8, "%s: positions over %d steps differ by %.3g Å" % (tag, k, worst))
        check.close([got[i].get_potential_energy() for i in range(k)],
                    [ref[i][1] for i in range(k)], 1e-8, 0, "%s: energies" % tag)
        check.close(got[-1].get_potential_energy(), ref[-1][1], 1e-6, 0, "%s: final energy" % tag)
        check.close(summary["energy"], got[-1].get_potential_energy(), 1e-9, 0,
                    "%s: JSON energy = last frame's" % tag)
        fm = np.sqrt((got[-1].get_forces() ** 2).sum(1).max())
        check.check(fm < 0.05 and abs(summary["fmax"] - fm) < 1e-9,
                    "%s: final fmax %g (JSON %g)" % (tag, fm, summary["fmax"]))
        check.check(got[-1].info.get("step") == nsteps, "%s: last frame's step %r"
                    % (tag, got[-1].info.get("step")))
        if fixed:
            check.check(len(read(start).constraints) == 1, "%s: ASE reads FixAtoms back" % tag)
            x0 = read(start).get_positions()
            moved = np.abs(got[-1].get_positions()[fixed] - x0[fixed]).max()
            check.check(moved == 0, "%s: fixed atoms moved %g Å" % (tag, moved))
        print("measured: %s: %d steps, first %d steps within %.2g Å of ASE"
              % (tag, nsteps, k, worst))


cu = Icosahedron("Cu", 2)
compare("emt_cu13", "emt", EMT(), cu, 0.15, 7)
compare("emt_cu13_fixed", "emt", EMT(), cu, 0.15, 11, fixed=[0, 3, 5])
sigma, eps = 3.868 / 2 ** (1 / 6), 0.185 / 23.0605  # UFF Ar, as the "lj" prior
ar = Icosahedron("Ar", 3, latticeconstant=2 ** (1 / 6) * sigma * 2 ** 0.5)
compare("lj_ar55", "lj", LennardJones(sigma=sigma, epsilon=eps, smooth=True), ar, 0.4, 5)

# Cut short: not converged is a result (exit 0), with as many frames as steps + 1.
start = start_file("short", cu, 0.15, 7)
out = os.path.join(TMP, "short.extxyz")
r = check.run("relax", "--prior", "emt", start, "--steps", "3", "-o", out, "--quiet")
check.check(r[0] == 0, "--steps 3: exit %d: %s" % (r[0], r[2]))
if r[0] == 0:
    s = json.loads(r[1])
    check.check(s["steps"] == 3 and not s["converged"] and len(read(out, ":")) == 4,
                "--steps 3: %r" % s)

# Bad input: exit 2, nothing written.
bad = os.path.join(TMP, "bad.extxyz")
u13 = read(start)
u13.set_chemical_symbols(["U"] * len(u13))
write(os.path.join(TMP, "u13.extxyz"), u13)
for args, what in ((("--prior", "emt", start, "--optimizer", "lbfgs"), "unknown optimizer"),
                   (("--prior", "emt", start, "--fmax", "0"), "fmax 0"),
                   (("--prior", "nonsense", start), "unknown prior"),
                   (("--prior", "emt", os.path.join(TMP, "u13.extxyz")), "an element EMT lacks"),
                   (("--prior", "emt", start, "--maxstep", "nan"), "maxstep NaN"),
                   (("--prior", "emt", start, "--reference", "nonsense"), "unknown reference"),
                   (("--prior", "emt", "--model", "m.model", start), "two calculators"),
                   (("--prior", "emt", os.path.join(TMP, "missing.extxyz")), "missing START"),
                   (("--prior", "emt", start, "--frame", "5"), "frame out of range")):
    if os.path.exists(bad):
        os.remove(bad)
    r = check.run("relax", *args, "-o", bad)
    check.check(r[0] == 2 and "mlshift:" in r[2] and not os.path.exists(bad),
                "%s: exit %d, stderr %r, output left %r" % (what, r[0], r[2][:200],
                                                           os.path.exists(bad)))

check.done()
