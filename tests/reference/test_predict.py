# SPDX-License-Identifier: MIT
"""mlshift predict: --head both equals the two heads run separately,
--refine-radius picks the radius refine-radius picks and predicts there
(equal to --radius at that radius), and statistics from another cutoff are
refused."""
import csv
import os
import tempfile
import warnings

import numpy as np
from ase.io import read as ase_read

from check import check, close, data, done, run

warnings.simplefilter("ignore")
tmp = tempfile.mkdtemp(prefix="mlshift-predict-")
model = os.path.join(tmp, "m.model")
r = run("model", "init", "--arch", "painn", "--elements", "H,C", "--features", "8",
        "--blocks", "2", "--seed", "3", "-o", model)
check(r[0] == 0, "model init: %s" % r[2])
src = os.path.join(tmp, "naph.extxyz")
run("convert", data("rmd17/rmd17_naphthalene_test_01.npz"), "--split", "6,0,0", "--part", "train",
    "-o", src, "--quiet")
stats = os.path.join(tmp, "a.stats")
run("stats", data("rmd17/rmd17_benzene_train_01.npz"), "-o", stats, "--quiet")

both, main, prior = (os.path.join(tmp, x + ".extxyz") for x in ("both", "main", "prior"))
check(run("predict", "--model", model, src, "--head", "both", "-o", both, "--quiet")[0] == 0, "both")
run("predict", "--model", model, src, "--head", "main", "-o", main, "--quiet")
run("predict", "--model", model, src, "--head", "prior", "-o", prior, "--quiet")
B, M, P = (ase_read(x, ":") for x in (both, main, prior))
close([b.info["pred_energy_main"] for b in B], [m.info["pred_energy"] for m in M], 0, 0,
      "--head both main energies")
close(np.array([b.arrays["pred_forces_prior"] for b in B]),
      np.array([p.arrays["pred_forces"] for p in P]), 0, 0, "--head both prior forces")

rr = os.path.join(tmp, "rr.extxyz")
r = run("predict", "--model", model, src, "--refine-radius", stats, "-o", rr, "--quiet")
check(r[0] == 0, "predict --refine-radius: %s" % r[2])
rr_csv = os.path.join(tmp, "rr.csv")
run("refine-radius", "--stats", stats, src, "--csv", rr_csv)
want = [float(x["radius"]) for x in csv.DictReader(open(rr_csv))]
if r[0] == 0:
    got = ase_read(rr, ":")
    close([g.info["pred_radius"] for g in got], want, 0, 0, "the radius refine-radius picks")
    for k, rad in enumerate(want[:3]):
        one = os.path.join(tmp, "one%d.extxyz" % k)
        run("predict", "--model", model, src, "--radius", repr(rad), "-o", one, "--quiet")
        close(got[k].info["pred_energy"], ase_read(one, k).info["pred_energy"], 0, 0,
              "frame %d predicted at its refined radius" % k)
s4 = os.path.join(tmp, "a4.stats")
run("stats", data("rmd17/rmd17_benzene_train_01.npz"), "--cutoff", "4", "-o", s4, "--quiet")
r = run("predict", "--model", model, src, "--refine-radius", s4, "-o", rr)
check(r[0] == 2 and "cutoff 4" in r[2], "statistics from another cutoff refused: %r" % r[2])
r = run("predict", "--model", model, src, "--radius", "4", "--refine-radius", stats, "-o", rr)
check(r[0] == 2, "--radius with --refine-radius refused")
bad = os.path.join(tmp, "bad.model")
open(bad, "wb").write(open(model, "rb").read()[:100])
r = run("predict", "--model", bad, src, "-o", rr)
check(r[0] == 2 and "bad.model" in r[2], "truncated model refused: %r" % r[2])
done()
