# SPDX-License-Identifier: MIT
"""diagnose's --neighbours (against an all-pairs numpy count), --errors
(binned force MAE against numpy), --json, --plot, and refine-radius's
--per-molecule and plots, on real rMD17 frames."""
import csv
import json
import os
import tempfile
import warnings

import numpy as np
from ase.io import read as ase_read
from ase.io import write as ase_write

from check import check, close, data, done, run

warnings.simplefilter("ignore")  # ASE notes it writes forces from its calculator
tmp = tempfile.mkdtemp(prefix="mlshift-diag-")
rc = 5.0


def spectra(R, r):
    d = np.linalg.norm(R[:, :, None, :] - R[:, None, :, :], axis=-1)
    A = ((d > 0) & (d <= r)).astype(float)
    deg = A.sum(-1)
    dinv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0.0)
    return np.linalg.eigvalsh(np.eye(R.shape[1])[None] - dinv[:, :, None] * A * dinv[:, None, :])


def dist(eig, avg):
    n = max(len(eig), len(avg))
    return ((np.pad(avg, (0, n - len(avg))) - np.pad(eig, (0, n - len(eig)))) ** 2).sum()


def padded(E, n):
    return np.array([np.pad(e, (0, n - len(e))) for e in E])


# Small sets: 300 uracil + 300 benzene training frames, 60 test frames of
# uracil and 60 of naphthalene (sizes differ: padding on both sides).
def subset(src, n, out, seed):
    r = run("convert", data(src), "--labels", "old", "--split", "%d,0,0" % n, "--seed", seed,
            "--part", "train", "-o", out, "--quiet")
    check(r[0] == 0, "convert %s: %s" % (src, r[2]))
    return ase_read(out, ":")


tr_u = subset("rmd17/rmd17_uracil_train_01.npz", 300, os.path.join(tmp, "tu.extxyz"), 1)
tr_b = subset("rmd17/rmd17_benzene_train_01.npz", 300, os.path.join(tmp, "tb.extxyz"), 2)
te_u = subset("rmd17/rmd17_uracil_test_01.npz", 60, os.path.join(tmp, "eu.extxyz"), 3)
te_n = subset("rmd17/rmd17_naphthalene_test_01.npz", 60, os.path.join(tmp, "en.extxyz"), 4)
test = te_u + te_n
ase_write(os.path.join(tmp, "test.extxyz"), test)
stats = os.path.join(tmp, "s.stats")
r = run("stats", os.path.join(tmp, "tu.extxyz"), os.path.join(tmp, "tb.extxyz"), "-o", stats,
        "--quiet")
check(r[0] == 0, "stats: %s" % r[2])

# --neighbours: all-pairs count in numpy.
Etr = [e for a in (tr_u, tr_b) for e in spectra(np.array([x.positions for x in a]), rc)]
Ete = [e for a in (te_u, te_n) for e in spectra(np.array([x.positions for x in a]), rc)]
nmax = max(len(e) for e in Etr + Ete)
Ptr, Pte = padded(Etr, nmax), padded(Ete, nmax)
D = ((Pte[:, None, :] - Ptr[None, :, :]) ** 2).sum(-1)
eps = float(np.median(D))
want = (D <= eps).sum(1)

# --errors: predictions = labels + known noise, in a separate file.
rng = np.random.default_rng(5)
pred = []
for a in test:
    b = a.copy()
    b.arrays["pred_forces"] = a.get_forces() + rng.normal(0, 0.05, size=(len(a), 3))
    pred.append(b)
ase_write(os.path.join(tmp, "pred.extxyz"), pred)
pred = ase_read(os.path.join(tmp, "pred.extxyz"), ":")  # as rounded in the file
test = ase_read(os.path.join(tmp, "test.extxyz"), ":")
mae = np.array([np.abs(b.arrays["pred_forces"] - a.get_forces()).mean() for a, b in zip(test, pred)])

out_csv, out_json = os.path.join(tmp, "d.csv"), os.path.join(tmp, "d.json")
err_csv, plot = os.path.join(tmp, "err.csv"), os.path.join(tmp, "err.svg")
r = run("diagnose", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--neighbours", repr(eps),
        "--train", os.path.join(tmp, "tu.extxyz"), "--train", os.path.join(tmp, "tb.extxyz"),
        "--errors", os.path.join(tmp, "pred.extxyz"), "--errors-csv", err_csv, "--bins", "4",
        "--plot", plot, "--csv", out_csv, "--json", out_json)
check(r[0] == 0, "diagnose with extras: %s" % r[2])
if r[0] == 0:
    rows = list(csv.DictReader(open(out_csv)))
    got = np.array([int(x["neighbours"]) for x in rows])
    check((got == want).all(), "neighbour counts equal the all-pairs count (%d differ)"
          % int((got != want).sum()))
    check(0 < want.sum() < want.size * len(Ptr), "eps is a real threshold")
    close([float(x["force_mae"]) for x in rows], mae, 1e-12, 1e-10, "per-structure force MAE")
    j = json.load(open(out_json))
    check(j["structures"] == 120 and len(j["per_structure"]) == 120, "json structures")
    check(j["axes"]["features"]["ood"] == 60, "naphthalene (60) new on features: %r"
          % j["axes"]["features"])
    check(j["padded"] == 60, "naphthalene (18 atoms) is padded past the training 12: %r"
          % j["padded"])
    # Binned MAE along natoms: two populations, 12 and 18 atoms.
    bins = [x for x in csv.DictReader(open(err_csv)) if x["axis"] == "natoms"]
    nat = np.array([len(a) for a in test])
    for b in bins:
        if int(b["count"]):
            lo, hi = float(b["lo"]), float(b["hi"])
            sel = (nat >= lo) & (nat <= hi)
            w = (mae[sel] * nat[sel]).sum() / nat[sel].sum()
            close(float(b["force_mae_meV_per_A"]), 1000 * w, 1e-9, 1e-9,
                  "natoms bin [%g, %g] MAE" % (lo, hi))
    check(sum(int(b["count"]) for b in bins) == 120, "every structure in a natoms bin")
    svg = open(plot).read()
    check(svg.startswith("<svg") and svg.count("<polyline") >= 4 and svg.rstrip().endswith("</svg>"),
          "plot is an SVG with four panels")

# refine-radius --per-molecule: one radius per composition, the minimiser of
# the mean distance over that molecule's frames (numpy).
avg = np.array(json.load(open(stats))["spectrum"])
rr_csv = os.path.join(tmp, "rr.csv")
r = run("refine-radius", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--per-molecule",
        "--csv", rr_csv, "--plot-spectrum", os.path.join(tmp, "spec.svg"),
        "--plot-degrees", os.path.join(tmp, "deg.svg"))
check(r[0] == 0, "refine-radius --per-molecule: %s" % r[2])
if r[0] == 0:
    rows = list(csv.DictReader(open(rr_csv)))
    radii = np.linspace(3, 9, 10)
    for name, frames in (("C4H4N2O2", te_u), ("C10H8", te_n)):
        R = np.array([a.positions for a in frames])
        n = max(len(avg), R.shape[1])
        def mean_d(r_):
            return (((padded(spectra(R, r_), n) - np.pad(avg, (0, n - len(avg)))) ** 2).sum(1)).mean()
        cand = [(mean_d(x), x) for x in list(radii) + [rc]]
        best = min(cand, key=lambda t: (round(t[0], 10), t[1] != rc, t[1]))[1]
        got = {float(x["radius"]) for x in rows if x["molecule"] == name}
        check(len(got) == 1 and abs(got.pop() - best) < 1e-9, "%s per-molecule radius" % name)
    for f in ("spec.svg", "deg.svg"):
        s = open(os.path.join(tmp, f)).read()
        check(s.startswith("<svg") and "</svg>" in s, "%s written" % f)
    png = os.path.join(tmp, "deg.png")
    r = run("refine-radius", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--plot-degrees", png)
    check(r[0] == 0 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "PNG plot: %s" % r[2])
    r = run("refine-radius", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--radii", "4,4")
    check(r[0] == 2 and "twice" in r[2], "duplicated radii refused: %r" % r[2])
    r = run("refine-radius", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--radii", "0,4")
    check(r[0] == 2 and "positive" in r[2], "zero radius refused: %r" % r[2])
    r = run("refine-radius", "--stats", stats, os.path.join(tmp, "test.extxyz"), "--radii", "3:9:x")
    check(r[0] == 2, "bad linspace refused")

# Bad and degenerate input: clear errors, or documented results.
def write(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as fh:
        fh.write(text)
    return p


empty = write("empty.xyz", "")
r = run("stats", empty, "-o", os.path.join(tmp, "e.stats"))
check(r[0] == 2 and "empty" in r[2] and not os.path.exists(os.path.join(tmp, "e.stats")),
      "stats on no frames: %r" % r[2])
for bad_cut in ("0", "-1", "nan", "x"):
    r = run("stats", os.path.join(tmp, "tu.extxyz"), "--cutoff", bad_cut, "-o", os.path.join(tmp, "c.stats"))
    check(r[0] == 2 and "--cutoff" in r[2], "--cutoff %s refused: %r" % (bad_cut, r[2]))
one = write("one.xyz", "1\nProperties=species:S:1:pos:R:3\nC 0 0 0\n")
iso = write("iso.xyz", "3\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH 20 0 0\nH 0 20 0\n")
r = run("diagnose", "--stats", stats, one, iso, "--json", os.path.join(tmp, "one.json"))
check(r[0] == 0, "one-atom and all-isolated structures diagnose: %r" % r[2])
if r[0] == 0:
    recs = json.load(open(os.path.join(tmp, "one.json")))["per_structure"]
    # Spectrum (1) and (1, 1, 1): distances to the average by hand.
    close([recs[0]["spectral_distance"], recs[1]["spectral_distance"]],
          [dist(np.array([1.0]), avg), dist(np.ones(3), avg)], 1e-12, 0,
          "isolated atoms: spectrum of ones")
r = run("refine-radius", "--stats", stats, one, iso)
check(r[0] == 0, "refine-radius on one-atom and isolated structures: %r" % r[2])
nan = write("nan.xyz", "2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH nan 0 0\n")
r = run("diagnose", "--stats", stats, nan)
check(r[0] == 2 and "nan.xyz:4" in r[2], "NaN position: %r" % r[2])
old = write("old.stats", json.dumps({"format": "mlshift-train-stats", "version": 0}))
r = run("refine-radius", "--stats", old, one)
check(r[0] == 2 and "version 0" in r[2], "stats file of another version: %r" % r[2])
r = run("diagnose", "--stats", os.path.join(tmp, "test.extxyz"), os.path.join(tmp, "test.extxyz"))
check(r[0] == 2 and "test.extxyz" in r[2], "a frames file given as statistics: %r" % r[2])
done()
