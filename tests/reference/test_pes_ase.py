# SPDX-License-Identifier: MIT
"""mlshift pes against ASE 3.22: the Hessian of EMT Cu13 (rattled, then
relaxed by mlshift) against ase.vibrations.Vibrations on the same
structure (delta 0.01, nfree 2, ASE's symmetrised H) to 1e-9 eV/Å²; the
two modes are eigenvectors of numpy's eigh of that H with its two largest
eigenvalues; every grid energy equals ASE's EMT single point at the
displaced positions; two calculators share one grid; the plot is written;
bad input exits 2 and writes nothing. ASE or numpy missing is a failure."""
import csv
import json
import os
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402
from ase.vibrations import Vibrations  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_pes_")
cu = Icosahedron("Cu", 2)
cu.rattle(0.05, seed=7)
start = os.path.join(TMP, "cu.extxyz")
write(start, cu)
out = os.path.join(TMP, "pes.csv")
hess = os.path.join(TMP, "h.csv")
modes = os.path.join(TMP, "modes.extxyz")
svg = os.path.join(TMP, "pes.svg")
r = check.run("pes", "--prior", "emt", "--prior", "lj", start, "--relax", "--points", "5",
              "--extent", "0.1", "-o", out, "--hessian", hess, "--modes", modes, "--plot", svg,
              "--quiet")
check.check(r[0] == 0, "pes: exit %d: %s" % (r[0], r[2]))
if r[0] == 0:
    info = json.loads(r[1])
    m = read(modes)
    x0 = m.get_positions()
    u, w = m.arrays["mode1"].ravel(), m.arrays["mode2"].ravel()
    H = np.loadtxt(hess, delimiter=",")
    at = cu.copy()
    at.set_positions(x0)
    at.calc = EMT()
    vib = Vibrations(at, delta=0.01, nfree=2, name=os.path.join(TMP, "vib"))
    vib.run()
    vib.read()
    check.close(H, vib.H, 1e-9, 1e-9, "Hessian = ASE Vibrations.H")
    check.check(np.abs(H - H.T).max() == 0, "Hessian symmetric")
    lam, V = np.linalg.eigh(vib.H)
    check.close(info["eigenvalues"], lam[::-1][:2], 1e-9, 1e-9, "two largest eigenvalues")
    for k, v in enumerate((u, w)):
        check.close(np.linalg.norm(v), 1.0, 1e-12, 0, "mode %d unit" % (k + 1))
        check.close(vib.H @ v, info["eigenvalues"][k] * v, 1e-8, 0,
                    "mode %d is an eigenvector of ASE's H" % (k + 1))
    check.check(info["relax_steps"] > 0 and info["points"] == 5 and info["calculators"] == ["emt", "lj"],
                "summary: %r" % info)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    check.check(len(rows) == 25, "25 grid rows, got %d" % len(rows))
    worst = 0.0
    for row in rows:
        a, b = float(row["a_A"]), float(row["b_A"])
        at.set_positions(x0 + (a * u + b * w).reshape(-1, 3))
        at.calc = EMT()
        worst = max(worst, abs(at.get_potential_energy() - float(row["emt"])))
    check.check(worst < 1e-10, "grid energies = ASE EMT single points (worst %.3g eV)" % worst)
    centre = [r_ for r_ in rows if r_["i"] == "2" and r_["j"] == "2"][0]
    check.check(float(centre["a_A"]) == 0 and float(centre["b_A"]) == 0 and
                float(centre["emt"]) == info["energy_centre"][0], "centre on the grid")
    lj = [float(r_["lj"]) for r_ in rows]
    check.check(np.all(np.isfinite(lj)) and len(set(lj)) > 1, "second calculator on the grid")
    check.check(os.path.getsize(svg) > 1000 and open(svg).read().count("<polyline") > 10,
                "contour plot written")

bad = [
    (["--prior", "nosuch", start], "unknown prior"),
    (["--prior", "emt", start, "--points", "4"], "even --points"),
    (["--prior", "emt", start, "--delta", "0"], "zero delta"),
    (["--prior", "emt", start, "--delta", "abc"], "delta not a number"),
    (["--prior", "emt", start, "--extent", "-1"], "negative extent"),
    (["--prior", "emt", "--head", "main", start], "--head without a model"),
    (["--model", os.path.join(TMP, "missing.model"), start], "missing model"),
    (["--prior", "emt", start, "--frame", "2"], "frame out of range"),
    ([start], "no calculator"),
]
U = os.path.join(TMP, "u.extxyz")
uat = cu.copy()
uat.set_chemical_symbols(["U"] * 13)
write(U, uat)
bad.append((["--prior", "emt", U], "an element EMT lacks"))
for args, what in bad:
    o = os.path.join(TMP, "bad.csv")
    p = os.path.join(TMP, "bad.svg")
    r = check.run("pes", *args, "-o", o, "--plot", p)
    check.check(r[0] == 2 and r[2].startswith("mlshift: ") and not os.path.exists(o)
                and not os.path.exists(p),
                "%s: exit %d, %r" % (what, r[0], r[2].strip()))
r = check.run("pes", "--help")
check.check(r[0] == 0 and "--extent" in r[1], "pes --help")
check.done()
