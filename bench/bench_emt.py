# SPDX-License-Identifier: MIT
"""ASE's EMT and LennardJones on the 100-atom Cu cluster of bench_emt.c —
the reference for the ≥ 20× target, timed in the same `make bench` run.
The cluster: the 100 fcc sites (a = 3.61 Å) nearest the origin, integer
(i, j, k) with i + j + k even, ordered by (i² + j² + k², i, j, k), at
(a/2)(i, j, k). ASE is timed as in MD: calculate() with only the positions
marked changed, so its neighbour list is reused (its cheapest path). If the
C bench binary is found ($MLSHIFT_BUILD/bench/bench_emt, default
build/bench/bench_emt) it is run too and the speed-up printed."""
import json
import os
import subprocess
import time

import numpy as np
from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

sites = [(i * i + j * j + k * k, i, j, k)
         for i in range(-6, 7) for j in range(-6, 7) for k in range(-6, 7) if (i + j + k) % 2 == 0]
sites.sort()
pos = 3.61 / 2 * np.array([s[1:] for s in sites[:100]], dtype=float)
atoms = Atoms("Cu100", positions=pos)

sigma, eps = 3.495 / 2 ** (1 / 6), 0.005 / 23.0605  # UFF Cu, as the "lj" prior
results = {}
for name, make in (("emt", EMT), ("lj", lambda: LennardJones(sigma=sigma, epsilon=eps, smooth=True))):
    atoms.calc = make()
    e = atoms.get_potential_energy()  # first call builds the neighbour list
    calls, best = 20, np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            atoms.calc.calculate(atoms, ["energy", "forces"], ["positions"])
        best = min(best, (time.perf_counter() - t0) / calls)
    results[name] = (best, float(e))
    print(json.dumps({"bench": "prior_energy_forces", "impl": "ase", "prior": name,
                      "system": "Cu100 fcc cluster", "atoms": 100, "calls": calls,
                      "seconds_per_call": float("%.4e" % best), "calls_per_s": round(1 / best, 1),
                      "energy_eV": round(float(e), 10)}))

binary = os.path.join(ROOT, os.environ.get("MLSHIFT_BUILD", "build"), "bench", "bench_emt")
if os.path.exists(binary):
    out = subprocess.run([binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        r = json.loads(line)
        if r["prior"] in results:
            print(json.dumps({"bench": "prior_speedup_vs_ase", "prior": r["prior"], "atoms": 100,
                              "mlshift_s": r["seconds_per_call"], "ase_s": float("%.4e" % results[r["prior"]][0]),
                              "speedup": round(results[r["prior"]][0] / r["seconds_per_call"], 1),
                              "energy_diff_eV": float("%.3g" % abs(r["energy_eV"] - results[r["prior"]][1]))}))
