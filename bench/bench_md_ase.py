# SPDX-License-Identifier: MIT
"""MD speed, mlshift md beside ASE's VelocityVerlet driving the same model
through the ASE calculator (python/mlshift_ase.py) in the same run: PaiNN
128×3 (random weights: the speed does not depend on them) on aspirin
(rMD17 test_01, a frame), velocity Verlet, float64, one thread. One JSON
line each: ms per step, and ns/day at 0.5 fs. The random model's forces
would fling the atoms apart within a few femtoseconds at 0.5 fs, so both
run at 0.001 fs: the atoms stay put and every step costs what a step of a
real simulation costs (the cost does not depend on dt). `mlshift md` is
timed as the difference of two runs (STEPS and STEPS/5 steps), so that
process start, model loading and output setup cancel."""
import json
import os
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
sys.path.insert(0, os.path.join(root, "python"))
DATA = os.environ.get("MLSHIFT_DATA", os.path.join(root, "..", "shared", "data"))
BUILD = os.environ.get("MLSHIFT_BUILD", os.path.join(root, "build"))
ML = os.environ.get("MLSHIFT_BIN", os.path.join(BUILD, "mlshift"))
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def main():
    src = os.path.join(DATA, "rmd17", "rmd17_aspirin_test_01.npz")
    if not os.path.exists(src) or not os.path.exists(ML):
        print("bench_md_ase.py: %s or %s missing, skipped" % (src, ML), file=sys.stderr)
        return
    os.environ.setdefault("MLSHIFT_LIB", os.path.join(BUILD, "libmlshift.so"))
    from ase import units
    from ase.io import read
    from ase.md.verlet import VelocityVerlet
    from mlshift_ase import MLShift

    tmp = tempfile.mkdtemp(prefix="bench_md_ase_")
    start, model = os.path.join(tmp, "start.extxyz"), os.path.join(tmp, "m.model")
    subprocess.run([ML, "convert", src, "--split", "1,0,0", "--part", "train", "--seed", "1",
                    "-o", start, "--quiet"], check=True)
    subprocess.run([ML, "model", "init", "--arch", "painn", "--elements", "H,C,O",
                    "--features", "128", "--blocks", "3", "--cutoff", "5", "--seed", "1",
                    "-o", model], check=True, capture_output=True)

    def md(n):
        t0 = time.perf_counter()
        subprocess.run([ML, "md", "--model", model, start, "--integrator", "verlet",
                        "--dt", "0.001", "--temperature", "500", "--steps", str(n),
                        "--every", str(n), "--quiet", "-o", os.path.join(tmp, "t.extxyz")],
                       check=True)
        return time.perf_counter() - t0

    md(20)  # warm the file cache
    per_step = (md(STEPS) - md(STEPS // 5)) / (STEPS - STEPS // 5)
    atoms = read(start)
    atoms.calc = MLShift(model=model)
    atoms.get_forces()
    dyn = VelocityVerlet(atoms, timestep=0.001 * units.fs)
    n_ase = max(STEPS // 5, 50)
    t0 = time.perf_counter()
    dyn.run(n_ase)
    per_step_ase = (time.perf_counter() - t0) / n_ase
    for impl, s in (("mlshift md", per_step), ("ase VelocityVerlet + mlshift_ase", per_step_ase)):
        print(json.dumps({"bench": "md_speed", "impl": impl, "molecule": "aspirin",
                          "atoms": len(atoms), "model": "painn 128x3", "dtype": "float64",
                          "steps": STEPS if impl == "mlshift md" else n_ase,
                          "ms_per_step": round(1e3 * s, 3),
                          "ns_per_day": round(0.5e-6 * 86400 / s, 2)}), flush=True)


main()
