# SPDX-License-Identifier: MIT
"""mlshift label: the prior's energies and forces land beside the reference
labels under their own keys, equal to ASE's EMT on the OC20 slab, and bad
input (unknown prior, an element the prior lacks) fails cleanly."""
import os
import tempfile
import warnings

import numpy as np
from ase.calculators.emt import EMT
from ase.io import read as ase_read

from check import check, close, data, done, run

warnings.simplefilter("ignore")
tmp = tempfile.mkdtemp(prefix="mlshift-label-")
src = data("oc20/random1000120.extxyz")
out = os.path.join(tmp, "emt.extxyz")
r = run("label", "--prior", "emt", src, "-o", out, "--quiet")
check(r[0] == 0, "label --prior emt: %s" % r[2])
if r[0] == 0:
    ref = ase_read(src, ":")[:20]
    got = ase_read(out, ":")[:20]
    check(len(ase_read(out, ":")) == 112, "all 112 frames labelled")
    for k, (a, b) in enumerate(zip(ref, got)):
        a.calc = EMT()
        close(b.info["prior_energy"], a.get_potential_energy(), 0, 1e-8,
              "frame %d EMT energy" % k)
        close(b.arrays["prior_forces"], a.get_forces(), 1e-8, 1e-8, "frame %d EMT forces" % k)
        close(b.get_potential_energy(), ase_read(src, k).get_potential_energy(), 0, 0,
              "frame %d keeps its DFT energy" % k)
    check(all(b.arrays["fixed"].sum() == 24 for b in got), "fixed flags kept")
# Force norms from the prior (paper A.5): stats and diagnose --prior emt.
import csv
import json
st = os.path.join(tmp, "oc20.stats")
r = run("stats", src, "--prior", "emt", "-o", st, "--quiet")
check(r[0] == 0, "stats --prior emt: %s" % r[2])
if r[0] == 0:
    frames = ase_read(src, ":")
    fn = []
    for a in frames:
        a.calc = EMT()
        fn.append(np.linalg.norm(a.get_forces(), axis=1).mean())
    j = json.load(open(st))
    check(j["force_norm"]["source"] == "prior:emt", "source recorded: %r" % j["force_norm"])
    close([j["force_norm"]["mean"], j["force_norm"]["std"]], [np.mean(fn), np.std(fn)], 1e-9, 1e-8,
          "training force norms from EMT")
    d_csv = os.path.join(tmp, "d.csv")
    r = run("diagnose", "--stats", st, src, "--prior", "emt", "--csv", d_csv)
    check(r[0] == 0 and "from the prior emt" in r[1], "diagnose --prior emt: %s" % r[2])
    if r[0] == 0:
        got = [float(x["force_norm"]) for x in csv.DictReader(open(d_csv))]
        close(got, fn, 1e-9, 1e-8, "test force norms from EMT")
r = run("label", "--prior", "nonsense", src, "-o", out)
check(r[0] == 2 and "nonsense" in r[2], "unknown prior: %r" % r[2])
bad = os.path.join(tmp, "mixed.xyz")
with open(bad, "w") as fh:
    fh.write("2\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nCu 0 0 2.5\n")
    fh.write("2\nProperties=species:S:1:pos:R:3\nCu 0 0 0\nFe 0 0 2.5\n")
o2 = os.path.join(tmp, "mixed_out.extxyz")
r = run("label", "--prior", "emt", bad, "-o", o2)
check(r[0] == 2 and "Fe" in r[2] and "frame 1" in r[2] and not os.path.exists(o2),
      "an element EMT lacks stops the run, nothing written: %r" % r[2])
r = run("label", "--prior", "emt", bad, "-o", o2, "--skip-failed")
check(r[0] == 0 and len(ase_read(o2, ":")) == 1, "--skip-failed drops that frame: %r" % r[2])
done()
