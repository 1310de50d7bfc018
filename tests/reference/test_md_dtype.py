# SPDX-License-Identifier: MIT
"""md --dtype float32: the model's float32 graph drives MD as the float64 one
does (mlshift_model_set_dtype; docs/md.md).

- The start frame's energy and forces of a float32 run equal the float64
  run's within float32 rounding (1e-5 eV; 1e-5 of the largest force).
- NVE with velocity Verlet conserves the total energy in float32 about as
  well as in float64 (the spread of E_tot within 2x the float64 spread +
  1e-4 eV over 400 steps).
- --dtype float16 and --dtype with --prior: exit 2, nothing written.
"""
import os
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_md_dtype_")
start = os.path.join(TMP, "start.extxyz")
s = Icosahedron("Cu", 2)
s.rattle(0.05, seed=7)
write(start, s)
model = os.path.join(TMP, "cu.model")
r = check.run("model", "init", "--arch", "painn", "--elements", "Cu", "--features", "16",
              "--blocks", "2", "--cutoff", "4", "--seed", "3", "-o", model)
check.check(r[0] == 0, "model init: %s" % r[2])


def md(name, *extra):
    out, log = os.path.join(TMP, name + ".extxyz"), os.path.join(TMP, name + ".csv")
    r = check.run("md", "--model", model, start, "--integrator", "verlet", "--dt", "1",
                  "--temperature", "300", "--seed", "2", "--steps", "400", "--every", "10",
                  "--quiet", "--log", log, "-o", out, *extra)
    check.check(r[0] == 0, "md %s: %s" % (name, r[2]))
    if r[0]:
        return None, None
    return read(out, ":"), np.genfromtxt(log, delimiter=",", names=True)


t64, l64 = md("f64", "--dtype", "float64")
t32, l32 = md("f32", "--dtype", "float32")
if t64 and t32:
    e64, e32 = t64[0].get_potential_energy(), t32[0].get_potential_energy()
    f64, f32 = t64[0].get_forces(), t32[0].get_forces()
    check.close([e32], [e64], 1e-5, 0, "start energy, float32 vs float64")
    fs = np.abs(f64).max()
    check.check(fs > 1e-3, "forces not trivial")
    check.close(f32.ravel(), f64.ravel(), 1e-5 * fs, 0, "start forces, float32 vs float64")
    s64 = np.ptp(l64["total_eV"])
    s32 = np.ptp(l32["total_eV"])
    check.check(s32 <= 2 * s64 + 1e-4,
                "NVE total-energy spread: float32 %.3g eV, float64 %.3g eV" % (s32, s64))
    print("NVE 400 steps: total-energy spread float32 %.3g eV, float64 %.3g eV" % (s32, s64))

bad = os.path.join(TMP, "bad.extxyz")
for args, what in [(["--model", model, "--dtype", "float16"], "--dtype"),
                   (["--prior", "emt", "--dtype", "float32"], "--dtype")]:
    r = check.run("md", *args, start, "--steps", "2", "-o", bad)
    check.check(r[0] == 2 and what in r[2] and not os.path.exists(bad),
                "md %s: exit %d, %r" % (" ".join(args), r[0], r[2]))
check.done()
