# SPDX-License-Identifier: MIT
"""Bounded memory: convert, stats, label, predict and diagnose stream their
frames, so their peak resident memory stays flat while the input grows 10×
(issue 12 §5). The inputs are rMD17 aspirin frames (1,000) and the same
frames repeated 10 times, as extxyz and as an uncompressed npz written by
numpy. Peak RSS is GNU time's %M (maximum resident set size, kB; Debian
package time): measured around the command itself, since a child forked
from this Python would count the interpreter's pages until exec. The outputs of the 10× runs are
checked against the 1× runs (the same frames give the same lines, ten
times over) and the statistics against numpy."""
import json
import os
import subprocess
import tempfile

import numpy as np

from check import MLSHIFT, check, close, data, done

RATIO = 1.5  # peak RSS at 10× over 1× must stay below this

tmp = tempfile.mkdtemp(prefix="mlshift-stream-")


def path(name):
    return os.path.join(tmp, name)


TIME = "/usr/bin/time"
if not os.access(TIME, os.X_OK):
    check(False, "required reference /usr/bin/time missing (Debian time; run "
          "scripts/install-deps)")
    done()


def run_rss(*args):
    """Runs mlshift; returns (exit code, stdout, stderr, peak RSS in kB)."""
    rss = path("rss")
    p = subprocess.run([TIME, "-f", "%M", "-o", rss, MLSHIFT] + [str(a) for a in args],
                       capture_output=True, text=True)
    try:
        kb = int(read(rss).split()[-1])
    except (OSError, ValueError, IndexError):
        kb = 0
    return p.returncode, p.stdout, p.stderr, kb


def read(p):
    with open(p) as f:
        return f.read()


# --- inputs: 1× and 10× as extxyz (text repeated) and npz (arrays tiled)
src = data("rmd17/rmd17_aspirin_test_01.npz")
x1, x10 = path("x1.extxyz"), path("x10.extxyz")
r = subprocess.run([MLSHIFT, "convert", src, "--labels", "old", "-o", x1, "--quiet"],
                   capture_output=True, text=True)
check(r.returncode == 0, "convert the rMD17 source: %s" % r.stderr)
text1 = read(x1)
with open(x10, "w") as f:
    f.write(text1 * 10)
check(os.path.getsize(x10) >= 9.99 * os.path.getsize(x1), "the extxyz input grows 10x")

z = np.load(src)
n1, n10 = path("n1.npz"), path("n10.npz")
arrays = {k: z[k] for k in z.files}
np.savez(n1, **arrays)
tiled = {k: (v if k == "nuclear_charges" else np.concatenate([v] * 10)) for k, v in arrays.items()}
np.savez(n10, **tiled)
check(os.path.getsize(n10) >= 9.9 * os.path.getsize(n1), "the npz input grows 10x")

model, stats = path("m.model"), path("asp.stats")
r = subprocess.run([MLSHIFT, "model", "init", "--arch", "painn", "--elements", "H,C,O",
                    "--features", "8", "--blocks", "1", "-o", model], capture_output=True, text=True)
check(r.returncode == 0, "model init: %s" % r.stderr)
r = subprocess.run([MLSHIFT, "stats", x1, "-o", stats, "--quiet"], capture_output=True, text=True)
check(r.returncode == 0, "stats for diagnose/predict: %s" % r.stderr)


def flat(name, args1, args10):
    """Runs a command on 1× and 10×; checks success and the RSS ratio."""
    a = run_rss(*args1)
    b = run_rss(*args10)
    check(a[0] == 0 and b[0] == 0, "%s: exit %d / %d: %s %s" % (name, a[0], b[0], a[2], b[2]))
    ratio = b[3] / max(a[3], 1)
    print("%-10s peak RSS %7d kB at 1x, %7d kB at 10x (ratio %.2f)" % (name, a[3], b[3], ratio))
    check(ratio < RATIO, "%s: peak RSS grew %.2fx (%d -> %d kB) for a 10x input"
          % (name, ratio, a[3], b[3]))
    return a, b


# --- convert: extxyz and npz
o1, o10 = path("c1.extxyz"), path("c10.extxyz")
flat("convert", ["convert", x1, "-o", o1, "--quiet"], ["convert", x10, "-o", o10, "--quiet"])
check(read(o10) == read(o1) * 10, "convert: the 10x output is the 1x output ten times")
check(read(o1) == text1, "convert: extxyz -> extxyz reproduces the file")

flat("convert-npz", ["convert", n1, "-o", o1, "--quiet"], ["convert", n10, "-o", o10, "--quiet"])
lines = read(o10).splitlines()
N = len(z["nuclear_charges"])
check(len(lines) == 10 * 1000 * (N + 2), "convert npz: 10,000 frames written")
for k in (0, 4321, 9999):  # frame k of the output against numpy's arrays
    block = lines[k * (N + 2):(k + 1) * (N + 2)]
    pos = np.array([[float(t) for t in ln.split()[1:4]] for ln in block[2:]])
    frc = np.array([[float(t) for t in ln.split()[4:7]] for ln in block[2:]])
    close(pos, tiled["coords"][k], 0, 0, "convert npz: frame %d positions" % k)
    close(frc, tiled["forces"][k] / 23.0605, 0, 0, "convert npz: frame %d forces" % k)
    check(abs(float(block[1].split("energy=")[1].split()[0]) - tiled["energies"][k] / 23.0605)
          <= 1e-12 * abs(tiled["energies"][k] / 23.0605), "convert npz: frame %d energy" % k)
    check(("index=%d " % k) in block[1], "convert npz: frame %d keeps its row index" % k)

# --- the npz stream hands pages back in spans, not after every chunk: each
# madvise flushes the TLB, and one per chunk and array made a streamed read
# 1.5x slower than a whole one (169 calls for this 10x file before; speed
# itself is measured in bench/bench_npz, never in a test). The count is the
# kernel's, through strace: at most two per MiB of input, plus a few.
STRACE = "/usr/bin/strace"
if not os.access(STRACE, os.X_OK):
    check(False, "required reference /usr/bin/strace missing (Debian strace; run "
          "scripts/install-deps)")
else:
    log = path("madvise.log")
    env = dict(os.environ)  # LeakSanitizer cannot run under ptrace
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    r = subprocess.run([STRACE, "-f", "-e", "trace=madvise", "-o", log, MLSHIFT, "convert",
                        n10, "-o", o10, "--quiet"], capture_output=True, text=True, env=env)
    calls = read(log).count("MADV_DONTNEED") if r.returncode == 0 else -1
    bound = 2 * os.path.getsize(n10) // (1 << 20) + 8
    check(0 <= calls <= bound, "convert npz 10x: %d madvise(MADV_DONTNEED) calls, at most %d"
          % (calls, bound))

# --- stats: the 10x statistics are the 1x ones (the same frames ten times)
s1, s10 = path("s1.stats"), path("s10.stats")
flat("stats", ["stats", x1, "-o", s1, "--quiet"], ["stats", x10, "-o", s10, "--quiet"])
j1, j10 = json.loads(read(s1)), json.loads(read(s10))
check(j10["n_structures"] == 10 * j1["n_structures"] == 10000, "stats: 10,000 structures")
for key in ("natoms", "carbon_fraction", "force_norm", "spectral_distance"):
    for m in ("mean", "std"):
        close(j10[key][m], j1[key][m], 1e-12, 1e-9, "stats: %s %s" % (key, m))
close(j10["spectrum"], j1["spectrum"], 1e-12, 1e-12, "stats: average spectrum")
check(j10["compositions"] == j1["compositions"] == ["C9H8O4"], "stats: compositions")
fn = np.linalg.norm(z["old_forces"] / 23.0605, axis=2).mean(axis=1)  # x1: --labels old
close(j10["force_norm"]["mean"], fn.mean(), 0, 1e-12, "stats: force-norm mean against numpy")
close(j10["force_norm"]["std"], fn.std(), 0, 1e-9, "stats: force-norm std against numpy")

# --- label and predict: per-frame outputs, ten times over
flat("label", ["label", "--prior", "lj", x1, "-o", o1, "--quiet"],
     ["label", "--prior", "lj", x10, "-o", o10, "--quiet"])
check(read(o10) == read(o1) * 10, "label: the 10x output is the 1x output ten times")
flat("predict", ["predict", "--model", model, x1, "-o", o1, "--quiet"],
     ["predict", "--model", model, x10, "-o", o10, "--quiet"])
check(read(o10) == read(o1) * 10, "predict: the 10x output is the 1x output ten times")

# --- diagnose: CSV and JSON per structure, the summary over all
d1, d10, js1, js10 = path("d1.csv"), path("d10.csv"), path("d1.json"), path("d10.json")
a, b = flat("diagnose", ["diagnose", "--stats", stats, x1, "--csv", d1, "--json", js1],
            ["diagnose", "--stats", stats, x10, "--csv", d10, "--json", js10])
rows1 = read(d1).splitlines()
rows10 = read(d10).splitlines()
check(len(rows10) == 1 + 10 * (len(rows1) - 1), "diagnose: 10,000 CSV rows")
same = all(rows10[1 + k].split(",", 1)[1] == rows1[1 + k % 1000].split(",", 1)[1]
           and rows10[1 + k].split(",", 1)[0] == str(k) for k in range(10000))
check(same, "diagnose: each CSV row equals the 1x row of the same frame, indexed 0..9999")
q1, q10 = json.loads(read(js1)), json.loads(read(js10))
check(q10["structures"] == 10000 and q10["ood_any"] == 10 * q1["ood_any"],
      "diagnose: JSON summary counts ten times the 1x counts")
check(len(q10["per_structure"]) == 10000 and q10["per_structure"][9999]["index"] == 9999,
      "diagnose: JSON holds every record")
done()
