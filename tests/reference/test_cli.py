# SPDX-License-Identifier: MIT
"""The `mlshift info` and `mlshift convert` commands against numpy and ASE
on the real data, and their handling of bad input (exit code 2, a message
naming the file, no output file left behind)."""
import json
import os
import tempfile

import numpy as np
from ase.io import read as ase_read

from check import check, close, data, done, require, run

KCAL = 23.0605
tmp = tempfile.mkdtemp(prefix="mlshift-cli-")


def force_norm_stats(forces):
    """Per-structure mean over atoms of |F_i|; min, median, mean, max."""
    fn = np.array([np.linalg.norm(f, axis=1).mean() for f in forces])
    return [fn.min(), np.median(fn), fn.mean(), fn.max()]


def info_json(*args):
    rc, out, err = run("info", "--json", *args)
    check(rc == 0, "info %s: exit %d: %s" % (args, rc, err))
    return json.loads(out) if rc == 0 else None


# 1. rMD17 aspirin with the original MD17 labels, against numpy.
f = data("rmd17/rmd17_aspirin_train_01.npz")
ref = np.load(f)
j = info_json(f, "--labels", "old")
if j:
    t = j["total"]
    check(t["frames"] == 1000 and t["natoms_min"] == 21 and t["natoms_max"] == 21,
          "aspirin counts: %r" % t)
    z = ref["nuclear_charges"]
    check(t["elements"] == {"H": 1000 * int((z == 1).sum()), "C": 1000 * int((z == 6).sum()),
                            "O": 1000 * int((z == 8).sum())}, "aspirin elements %r" % t["elements"])
    e = ref["old_energies"] / KCAL
    close([t["energy"]["min"], t["energy"]["max"], t["energy"]["mean"]],
          [e.min(), e.max(), e.mean()], 0, 1e-12, "aspirin energy range (old labels)")
    fs = t["force_norm"]
    close([fs["min"], fs["median"], fs["mean"], fs["max"]],
          force_norm_stats(ref["old_forces"] / KCAL), 0, 1e-12,
          "aspirin force-norm statistics (old labels)")
    check(fs["count"] == 1000, "aspirin force count")
# The new (rMD17) labels differ from the old ones.
j2 = info_json(f)
if j and j2:
    close(j2["total"]["energy"]["mean"], (ref["energies"] / KCAL).mean(), 0, 1e-12,
          "aspirin energy mean (rMD17 labels)")
    check(j2["total"]["energy"]["mean"] != j["total"]["energy"]["mean"],
          "--labels old changes the labels")

# 2. 3BPA against ASE.
f = data("3bpa/train_300K.xyz")
frames = ase_read(f, ":")
j = info_json(f)
if j:
    t = j["total"]
    check(t["frames"] == len(frames) == 500, "3bpa frames %d" % t["frames"])
    e = np.array([a.get_potential_energy() for a in frames])
    close([t["energy"]["min"], t["energy"]["max"], t["energy"]["mean"]],
          [e.min(), e.max(), e.mean()], 0, 1e-12, "3bpa energies")
    fs = t["force_norm"]
    close([fs["min"], fs["median"], fs["mean"], fs["max"]],
          force_norm_stats([a.get_forces() for a in frames]), 0, 1e-12,
          "3bpa force-norm statistics")
    # The data README: 300 K median 1.41 eV/Å.
    check(abs(fs["median"] - 1.41) < 0.01, "3bpa 300 K median %.3f" % fs["median"])

# Text output names the statistics.
rc, out, err = run("info", data("3bpa/train_mixedT.xyz"))
check(rc == 0 and "median" in out and "frames" in out, "info text output")

# 3. convert toluene (old labels) → extxyz, read back by ASE.
f = data("rmd17/rmd17_toluene_test_01.npz")
ref = np.load(f)
out = os.path.join(tmp, "t.extxyz")
rc, _, err = run("convert", f, "--labels", "old", "-o", out)
check(rc == 0, "convert toluene: %s" % err)
if rc == 0:
    back = ase_read(out, ":")
    check(len(back) == 1000, "toluene frames read back: %d" % len(back))
    close(np.array([a.positions for a in back]), ref["coords"], 0, 0, "toluene positions exact")
    close(np.array([a.get_potential_energy() for a in back]), ref["old_energies"] / KCAL, 0, 0,
          "toluene energies in eV exact")
    close(np.array([a.get_forces() for a in back]), ref["old_forces"] / KCAL, 0, 0,
          "toluene forces in eV/Å exact")
    check(all((a.numbers == ref["nuclear_charges"]).all() for a in back), "toluene numbers")
    check(back[5].info.get("old_index") == int(ref["old_indices"][5]),
          "old_index kept in info: %r" % back[5].info.get("old_index"))

# 4. Deduplication over the five overlapping aspirin train files.
files = [data("rmd17/rmd17_aspirin_train_%02d.npz" % k) for k in range(1, 6)]
uniq = np.unique(np.concatenate([np.load(p)["old_indices"] for p in files]))
j = info_json(*files, "--dedup", "old_index")
if j:
    check(j["total"]["frames"] == len(uniq) == 4895,
          "dedup: %d frames, numpy %d" % (j["total"]["frames"], len(uniq)))
j = info_json(*files)
if j:
    check(len(j["files"]) == 5 and all(x["frames"] == 1000 for x in j["files"]),
          "per-file summaries")

# 5. Seeded splits: disjoint, complete, reproducible.
f = data("rmd17/rmd17_uracil_test_01.npz")
ref = np.load(f)
outs = []
for k in range(2):
    o = os.path.join(tmp, "u%d.extxyz" % k)
    rc, _, err = run("convert", f, "--split", "100,10,rest", "--seed", "3", "-o", o, "--quiet")
    check(rc == 0, "convert --split: %s" % err)
    outs.append(o)
parts = {}
for name in ("train", "val", "test"):
    p = os.path.join(tmp, "u0.%s.extxyz" % name)
    parts[name] = [int(a.info["old_index"]) for a in ase_read(p, ":")]
    same = open(p, "rb").read() == open(os.path.join(tmp, "u1.%s.extxyz" % name), "rb").read()
    check(same, "same seed gives the same %s file" % name)
check([len(parts[n]) for n in ("train", "val", "test")] == [100, 10, 890],
      "split sizes %r" % [len(parts[n]) for n in parts])
allidx = parts["train"] + parts["val"] + parts["test"]
check(sorted(allidx) == sorted(ref["old_indices"].tolist()), "split is disjoint and complete")
o = os.path.join(tmp, "u_seed4.extxyz")
run("convert", f, "--split", "100,10,rest", "--seed", "4", "-o", o, "--quiet")
check([int(a.info["old_index"]) for a in ase_read(os.path.join(tmp, "u_seed4.train.extxyz"), ":")]
      != parts["train"], "another seed, another split")
rc, out, _ = run("info", "--json", f, "--split", "100,10,rest", "--seed", "3", "--part", "val")
check(rc == 0 and json.loads(out)["total"]["frames"] == 10, "--part val has 10 frames")


# 6. Bad input: exit 2, "mlshift: FILE…", nothing written.
def bad(args, must_contain, what, output=None):
    rc, out, err = run(*args)
    ok = rc == 2 and err.startswith("mlshift: ") and all(s in err for s in must_contain)
    check(ok, "%s: exit %d, stderr %r" % (what, rc, err))
    if output:
        left = [x for x in os.listdir(os.path.dirname(output)) if os.path.basename(output) in x]
        check(not left, "%s: output left behind: %r" % (what, left))


def write(name, text, mode="w"):
    p = os.path.join(tmp, name)
    with open(p, mode) as fh:
        fh.write(text)
    return p


good = "2\nProperties=species:S:1:pos:R:3 energy=1.0\nH 0 0 0\nH 0 0 0.74\n"
out = os.path.join(tmp, "bad-out.extxyz")
bad(["info", os.path.join(tmp, "nope.xyz")], ["nope.xyz"], "missing file")
p = write("trunc.xyz", good + "3\nProperties=species:S:1:pos:R:3\nH 0 0 0\n")
bad(["convert", p, "-o", out], ["trunc.xyz:"], "truncated extxyz", out)
p = write("nan.xyz", "2\nProperties=species:S:1:pos:R:3\nH 0 0 0\nH nan 0 0.74\n")
bad(["convert", p, "-o", out], ["nan.xyz:4"], "NaN coordinate", out)
p = write("elem.xyz", "1\nProperties=species:S:1:pos:R:3\nXx 0 0 0\n")
bad(["info", p], ["elem.xyz:3", "Xx"], "unknown element")
p = write("cols.xyz", "1\nProperties=species:S:1:pos:R:3\nH 0 0\n")
bad(["info", p], ["cols.xyz:3"], "missing column")
p = write("num.xyz", "1\nProperties=species:S:1:pos:R:3\nH 0 x 0\n")
bad(["info", p], ["num.xyz:3"], "non-numeric field")
p = write("noe.xyz", "1\nProperties=species:S:1:pos:R:3\nH 0 0 0\n")
bad(["info", p, "--require-energy"], ["noe.xyz"], "missing energy with --require-energy")
p = write("notzip.npz", "this is not a zip file at all\n" * 10)
bad(["info", p], ["notzip.npz"], "npz that is not a zip")
p = os.path.join(tmp, "shapes.npz")
np.savez(p, z=np.array([1, 1]), R=np.zeros((3, 2, 3)), E=np.zeros(4), F=np.zeros((3, 2, 3)))
bad(["info", p], ["shapes.npz"], "npz arrays of mismatched shapes")
p = os.path.join(tmp, "other.zip.npz")
import zipfile
with zipfile.ZipFile(p, "w") as zf:
    zf.writestr("readme.txt", "hello")
bad(["info", p], ["other.zip.npz"], "a zip that is not an npz")
h5py = require("h5py", "python3-h5py")
p = os.path.join(tmp, "other.h5")
with h5py.File(p, "w") as h:
    h.create_dataset("grp/temperature", data=np.zeros(3))
bad(["info", p], ["other.h5"], "HDF5 of another layout")
bad(["info", data("rmd17/rmd17_aspirin_train_01.npz"), "--bogus"], ["--bogus"], "unknown option")
p = write("empty.xyz", "")
bad(["convert", p, "-o", out], ["no frames"], "convert of an empty file", out)
bad(["info"], ["no input"], "no input files")
bad(["convert", data("3bpa/iso_atoms.xyz")], ["-o"], "convert without -o")
bad(["info", data("3bpa/iso_atoms.xyz"), "--split", "1,1,rest"], ["--part"], "--split without --part")
bad(["info", data("3bpa/iso_atoms.xyz"), "--seed", "-3"], ["--seed"], "negative seed")
bad(["nonsense"], ["nonsense"], "unknown command")
# A failing write (directory missing) leaves nothing and says why.
bad(["convert", data("3bpa/iso_atoms.xyz"), "-o", os.path.join(tmp, "no/such/dir/x.extxyz")],
    ["x.extxyz"], "unwritable output")
# An existing output is not clobbered by a failed conversion.
keep = write("keep.extxyz", good)
p = write("trunc2.xyz", "5\nProperties=species:S:1:pos:R:3\nH 0 0 0\n")
rc, _, _ = run("convert", p, "-o", keep)
check(rc == 2 and open(keep).read() == good, "failed convert keeps the old output intact")

rc, out, _ = run("--help")
check(rc == 0 and "info" in out and "convert" in out, "mlshift --help")
# --version names the BLAS kernels OpenBLAS runs; where the environment pins
# them (OPENBLAS_CORETYPE), those.
rc, out, _ = run("--version")
lines = out.splitlines()
check(rc == 0 and len(lines) == 2 and lines[0].startswith("mlshift ") and
      lines[1].startswith("BLAS: OpenBLAS, ") and lines[1].endswith(" kernels"),
      "mlshift --version: %r" % out)
pinned = os.environ.get("OPENBLAS_CORETYPE")
if pinned and len(lines) == 2:
    check(lines[1].split()[2].lower() == pinned.lower(),
          "--version reports the pinned kernels %s: %r" % (pinned, lines[1]))
for cmd in ("info", "convert"):
    rc, out, _ = run(cmd, "--help")
    check(rc == 0 and "usage: mlshift " + cmd in out and "--labels" in out, "%s --help" % cmd)
done()
