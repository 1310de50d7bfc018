# SPDX-License-Identifier: MIT
"""relax --reference against ASE 3.22: a rattled Cu13 is relaxed with the
"lj" prior (a stand-in for a model) and then, from its last frame, with
EMT as the reference; the reference stage's step count (extra_steps) and
its positions equal ASE's BFGS driving EMT from the same structure (the
model stage's last frame as written, read back by ASE), and the model
stage alone equals a plain `relax --prior lj`. An unknown reference spec
exits 2 and writes nothing. ASE or numpy missing is a failure."""
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
from ase.optimize import BFGS, FIRE  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_relaxref_")
cu = Icosahedron("Cu", 2)
cu.rattle(0.08, seed=3)
start = os.path.join(TMP, "cu.extxyz")
write(start, cu)
for opt, ase_opt in (("bfgs", BFGS), ("fire", FIRE)):
    out = os.path.join(TMP, "r_%s.extxyz" % opt)
    r = check.run("relax", "--prior", "lj", start, "--reference", "emt", "--optimizer", opt,
                  "-o", out, "--quiet")
    check.check(r[0] == 0, "relax --reference (%s): %s" % (opt, r[2]))
    if r[0] != 0:
        continue
    info = json.loads(r[1])
    ref = info["reference"]
    frames = read(out, ":")
    stages = [f.info.get("stage") for f in frames]
    nm = stages.count("model")
    check.check(nm == info["steps"] + 1 and stages.count("reference") == ref["steps"] + 1,
                "%s: frames per stage %d + %d" % (opt, nm, stages.count("reference")))
    plain = os.path.join(TMP, "plain_%s.extxyz" % opt)
    r2 = check.run("relax", "--prior", "lj", start, "--optimizer", opt, "-o", plain, "--quiet")
    check.check(r2[0] == 0 and json.loads(r2[1])["steps"] == info["steps"] and
                np.array_equal(read(plain).get_positions(), frames[nm - 1].get_positions()),
                "%s: the model stage is a plain relax" % opt)
    at = frames[nm - 1].copy()
    at.calc = EMT()
    dyn = ase_opt(at, logfile=None)
    dyn.run(fmax=0.05, steps=1000)
    check.check(ref["extra_steps"] == dyn.get_number_of_steps() and ref["converged"],
                "%s: extra steps %d, ASE %d" % (opt, ref["extra_steps"], dyn.get_number_of_steps()))
    check.close(frames[-1].get_positions(), at.get_positions(), 1e-8, 0,
                "%s: reference minimum = ASE's" % opt)
    check.close(ref["energy"], at.get_potential_energy(), 1e-9, 0, "%s: energy" % opt)
o = os.path.join(TMP, "bad.extxyz")
r = check.run("relax", "--prior", "lj", start, "--reference", "nosuch", "-o", o)
check.check(r[0] == 2 and r[2].startswith("mlshift: ") and not os.path.exists(o),
            "unknown --reference: exit %d, %r" % (r[0], r[2].strip()))
check.done()
