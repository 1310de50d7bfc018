# SPDX-License-Identifier: MIT
"""The xtb prior against the `xtb` program (6.5.1, the same release as
libxtb): energies and gradients on the same structures must agree.

For each structure (aspirin, an rMD17 aspirin frame away from equilibrium,
the aspirinate anion, the aspirin carboxyl radical, the benzene radical
cation) and each method (gfn2, gfn1, gfnff), `xtb FILE.xyz --gfn N --grad
--chrg Q --uhf U` runs in a fresh temporary directory (so no xtbrestart or
.CHRG is picked up); its total energy (stdout, Eh) and `gradient` file
(Turbomole format, Eh/bohr) are the reference. Ours comes from
`tests/test_xtb --dump SPEC FILE.xyz` (eV, eV/Å; converted back here with
CODATA 2018 constants). Both start the SCC from scratch, so agreement should
be at round-off: tolerances 1e-8 Eh and 1e-7 Eh/bohr."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402
import numpy as np  # noqa: E402

EV_PER_HARTREE = 27.211386245988    # CODATA 2018
ANGSTROM_PER_BOHR = 0.529177210903  # CODATA 2018
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O"}


def read_xyz(path):
    with open(path) as f:
        lines = f.read().splitlines()
    n = int(lines[0])
    z, r = [], []
    for line in lines[2:2 + n]:
        p = line.split()
        z.append({v: k for k, v in SYMBOLS.items()}[p[0]])
        r.append([float(x) for x in p[1:4]])
    return np.array(z), np.array(r)


def write_xyz(path, z, r):
    with open(path, "w") as f:
        f.write("%d\n\n" % len(z))
        for zi, ri in zip(z, r):
            f.write("%s %.10f %.10f %.10f\n" % (SYMBOLS[int(zi)], *ri))


def structures():
    """(name, Z, R in Å, charge, uhf)."""
    z, r = read_xyz(check.data("sgdml_models/geom_aspirin.xyz"))
    out = [("aspirin", z, r, 0, 0)]
    d = np.load(check.data("rmd17/rmd17_aspirin_test_01.npz"))
    out.append(("aspirin_rmd17_0", d["nuclear_charges"], d["coords"][0], 0, 0))
    # the carboxylic H: the hydrogen whose nearest atom is an oxygen
    dist = np.linalg.norm(r[:, None] - r[None], axis=-1) + np.eye(len(z)) * 1e9
    acid = [i for i in range(len(z)) if z[i] == 1 and z[np.argmin(dist[i])] == 8]
    assert len(acid) == 1, acid
    keep = np.arange(len(z)) != acid[0]
    out.append(("aspirinate", z[keep], r[keep], -1, 0))
    out.append(("aspirin_radical", z[keep], r[keep], 0, 1))
    zb, rb = read_xyz(check.data("sgdml_models/geom_benzene.xyz"))
    out.append(("benzene_cation", zb, rb, 1, 1))
    return out


def run_xtb(xyz, method, charge, uhf, workdir):
    flags = {"gfn2": ["--gfn", "2"], "gfn1": ["--gfn", "1"],
             "gfnff": ["--gfnff"]}[method]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    p = subprocess.run(["xtb", xyz] + flags + ["--grad", "--chrg", str(charge),
                       "--uhf", str(uhf)], cwd=workdir, capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("xtb failed: " + p.stderr[-500:] + p.stdout[-500:])
    energy = None
    for line in p.stdout.splitlines():
        if "TOTAL ENERGY" in line:
            energy = float(line.split()[3])
    with open(os.path.join(workdir, "gradient")) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    start = next(i for i, l in enumerate(lines) if l.startswith("$grad")) + 2
    rows = []
    for line in lines[start:]:
        if line.startswith("$"):
            break
        rows.append(line.split())
    n = len(rows) // 2
    grad = np.array([[float(x.replace("D", "E")) for x in row[:3]]
                     for row in rows[n:]])
    return energy, grad


def run_ours(binary, spec, xyz):
    p = subprocess.run([binary, "--dump", spec, xyz], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("test_xtb --dump failed: " + p.stderr)
    v = p.stdout.split()
    e = float(v[0]) / EV_PER_HARTREE
    forces = np.array([float(x) for x in v[1:]]).reshape(-1, 3)
    return e, -forces * ANGSTROM_PER_BOHR / EV_PER_HARTREE


def main():
    check.check(shutil.which("xtb") is not None, "required reference: the xtb program "
                "(Debian xtb; run scripts/install-deps) is not on PATH")
    if shutil.which("xtb") is None:
        check.done()
    binary = os.path.join(os.path.dirname(check.MLSHIFT), "tests", "test_xtb")
    check.check(os.access(binary, os.X_OK), "no test program %s" % binary)
    if not os.access(binary, os.X_OK):
        check.done()
    worst_e = worst_g = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, z, r, q, u in structures():
            xyz = os.path.join(tmp, name + ".xyz")
            write_xyz(xyz, z, r)
            for method in ("gfn2", "gfn1", "gfnff"):
                spec = "xtb:%s,charge=%d,uhf=%d" % (method, q, u)
                work = tempfile.mkdtemp(dir=tmp)
                try:
                    e_ref, g_ref = run_xtb(xyz, method, q, u, work)
                    e, g = run_ours(binary, spec, xyz)
                except RuntimeError as exc:
                    check.check(False, "%s %s: %s" % (name, spec, exc))
                    continue
                check.check(e_ref is not None, "%s %s: no energy in the xtb "
                            "output" % (name, spec))
                if e_ref is None:
                    continue
                de, dg = abs(e - e_ref), float(np.max(np.abs(g - g_ref)))
                worst_e, worst_g = max(worst_e, de), max(worst_g, dg)
                print("%-16s %-26s E = %.10f Eh  |dE| = %.1e Eh  max |dg| = "
                      "%.1e Eh/bohr" % (name, spec, e_ref, de, dg))
                check.close(e, e_ref, 1e-8, 0, "%s %s: energy (Eh)" % (name, spec))
                check.close(g, g_ref, 1e-7, 0, "%s %s: gradient (Eh/bohr)"
                            % (name, spec))
    print("worst over all: |dE| = %.1e Eh, |dg| = %.1e Eh/bohr" % (worst_e, worst_g))
    check.done()


if __name__ == "__main__":
    main()
