# SPDX-License-Identifier: MIT
"""LAMMPS + KIM with an mlshift model (kim/, docs/lammps.md) against
`mlshift md` on the same system and steps, in the same run: the overhead of
the bridge. Two systems: periodic fcc Cu (3 x 3 x 3 cells, 108 atoms,
displaced) and aspirin in a non-periodic box (21 atoms, no ghosts: the
bridge alone); a PaiNN model (32 features, 3 blocks, 4 A: influence
distance 12 A), NVE velocity Verlet, 0.5 fs, 300 K start, 50 steps, one
process each.

LAMMPS evaluates the model on its own atoms and every ghost atom within
the influence distance + skin (docs/lammps.md): the line reports the ghost
count, the part of the overhead that is the message-passing model's and
not the bridge's. One JSON line per system; wall seconds of the MD loop
(LAMMPS' "Loop time", `mlshift md`'s whole run, which also reads the model
and writes 2 frames)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLSHIFT = os.environ.get("MLSHIFT_BIN") or os.path.join(ROOT, "build", "mlshift")
DRIVERS = os.path.join(os.path.dirname(MLSHIFT), "kim", "model-drivers")
DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(ROOT, "..", "shared", "data")


def main():
    if not shutil.which("lmp"):
        print("bench_lammps.py: Debian lammps not installed, skipped", file=sys.stderr)
        return 0
    if not os.path.exists(os.path.join(DRIVERS, "mlshift_driver")):
        print("bench_lammps.py: %s missing (make kim), skipped" % DRIVERS, file=sys.stderr)
        return 0
    import numpy as np
    import numpy as np
    tmp = tempfile.mkdtemp(prefix="mlshift-bench-lammps-")
    P = lambda x: os.path.join(tmp, x)
    # periodic Cu, 3 x 3 x 3 fcc cells, displaced
    n, a0 = 3, 3.61
    rng = np.random.default_rng(0)
    basis = np.array([[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])
    pos = np.array([(np.array([i, j, k]) + b) * a0 for i in range(n) for j in range(n)
                    for k in range(n) for b in basis])
    L = n * a0
    pos = (pos + rng.normal(0, 0.05, pos.shape)) % L
    rc = bench(P, "Cu fcc 3x3x3 periodic", ["Cu"] * len(pos), pos, L, "p p p", "Cu")
    # a molecule (aspirin, rMD17 frame 0) in a non-periodic box: no ghosts
    path = os.path.join(DATA, "rmd17", "rmd17_aspirin_test_01.npz")
    if os.path.exists(path):
        d = np.load(path)
        sym = {1: "H", 6: "C", 8: "O"}
        pos = d["coords"][0] - d["coords"][0].mean(axis=0)
        rc |= bench(P, "aspirin in a box", [sym[z] for z in d["nuclear_charges"]], pos, None,
                    "f f f", "H,C,O")
    shutil.rmtree(tmp, ignore_errors=True)
    return rc


def bench(P, system, symbols, pos, L, boundary, elements):
    """One JSON line: LAMMPS + KIM and mlshift md, the same atoms, model and
    steps. L: cubic box edge (periodic) or None (a 40 Å box, non-periodic)."""
    steps = 50
    name = "mlshift_bench_" + elements.replace(",", "")
    model = P(name + ".model")
    subprocess.run([MLSHIFT, "model", "init", "--elements", elements, "--features", "32",
                    "--blocks", "3", "--cutoff", "4", "--seed", "1", "-o", model], check=True,
                   capture_output=True)
    subprocess.run([os.path.join(ROOT, "kim", "mlshift-kim-model"), model, name, P("pm")],
                   check=True, capture_output=True)
    types = sorted(set(symbols), key=symbols.index)
    masses = {"H": 1.008, "C": 12.011, "O": 15.999, "Cu": 63.546}
    lo, hi = (0, L) if L else (-20, 20)
    with open(P("in.data"), "w") as f:
        f.write("mlshift\n\n%d atoms\n%d atom types\n" % (len(pos), len(types)))
        for ax in "xyz":
            f.write("%.17g %.17g %slo %shi\n" % (lo, hi, ax, ax))
        f.write("\nMasses\n\n")
        for t, e in enumerate(types):
            f.write("%d %g\n" % (t + 1, masses[e]))
        f.write("\nAtoms # atomic\n\n")
        for i, (e, p) in enumerate(zip(symbols, pos)):
            f.write("%d %d %.17g %.17g %.17g\n" % (i + 1, types.index(e) + 1, *p))
    with open(P("start.extxyz"), "w") as f:
        lat = 'Lattice="%.17g 0 0 0 %.17g 0 0 0 %.17g" pbc="T T T" ' % (L, L, L) if L else ""
        f.write("%d\n%sProperties=species:S:1:pos:R:3\n" % (len(pos), lat))
        for e, p in zip(symbols, pos):
            f.write("%s %.17g %.17g %.17g\n" % (e, *p))
    with open(P("in.lmp"), "w") as f:
        f.write("""kim init %s metal
boundary %s
read_data %s
kim interactions %s
velocity all create 300 1 mom yes rot no
timestep 0.0005
fix nve all nve
thermo %d
run %d
""" % (name, boundary, P("in.data"), " ".join(types), steps, steps))
    env = dict(os.environ, KIM_API_MODEL_DRIVERS_DIR=DRIVERS,
               KIM_API_PORTABLE_MODELS_DIR=P("pm"), OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    r = subprocess.run(["lmp", "-in", P("in.lmp"), "-log", "none", "-nocite"],
                       cwd=os.path.dirname(P("x")), capture_output=True, text=True, env=env)
    lmp_wall = time.perf_counter() - t0
    if r.returncode != 0:
        print("bench_lammps.py: lmp failed: %s" % (r.stdout[-1000:] + r.stderr[-1000:]),
              file=sys.stderr)
        return 1
    loop = float(re.search(r"Loop time of ([0-9.eE+-]+)", r.stdout).group(1))
    ghosts = float(re.search(r"Nghost:\s+([0-9.eE+-]+)", r.stdout).group(1))
    t0 = time.perf_counter()
    m = subprocess.run([MLSHIFT, "md", "--model", model, P("start.extxyz"), "--integrator",
                        "verlet", "--dt", "0.5", "--temperature", "300", "--steps", str(steps),
                        "--save-every", str(steps), "-o", P("traj.extxyz")],
                       capture_output=True, text=True)
    md_wall = time.perf_counter() - t0
    if m.returncode != 0:
        print("bench_lammps.py: mlshift md failed: %s" % m.stderr[-1000:], file=sys.stderr)
        return 1
    print(json.dumps({"bench": "lammps_kim_vs_md", "system": system, "atoms": len(pos),
                      "ghost_atoms": ghosts, "arch": "painn", "features": 32, "blocks": 3,
                      "cutoff_A": 4.0, "influence_A": 12.0, "steps": steps, "dt_fs": 0.5,
                      "lammps_loop_s": loop, "lammps_wall_s": round(lmp_wall, 3),
                      "mlshift_md_wall_s": round(md_wall, 3),
                      "wall_ratio_lammps_over_md": round(lmp_wall / md_wall, 3)}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
