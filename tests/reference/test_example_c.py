# SPDX-License-Identifier: MIT
"""examples/refine_forces.c, built against the installed library: `make
install` into a staging directory, compile with `pkg-config --cflags
--libs mlshift` (the shared library, so only exported symbols can be
used), run it, and compare its radii, energies and force maxima with
`mlshift predict --refine-radius` on the same frames. (Skipped in the
sanitizer build, whose objects need the sanitizer runtime.)"""
import os
import subprocess
import tempfile

import numpy as np
from ase.io import read

from check import check, close, data, done, run, skip, MLSHIFT, ROOT

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: its objects need the sanitizer runtime")
stage = tempfile.mkdtemp(prefix="mlshift-example-")
prefix = os.path.join(stage, "usr")
r = subprocess.run(["make", "-s", "install", "PREFIX=" + prefix,
                    "B=" + os.path.relpath(build, ROOT)], cwd=ROOT, capture_output=True, text=True)
check(r.returncode == 0, "make install: %s" % r.stderr[-2000:])
env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
flags = subprocess.run(["pkg-config", "--cflags", "--libs", "mlshift"], capture_output=True,
                       text=True, env=env)
check(flags.returncode == 0, "pkg-config mlshift: %s" % flags.stderr)
exe = os.path.join(stage, "refine_forces")
r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2",
                    os.path.join(ROOT, "examples", "refine_forces.c"), "-o", exe]
                   + flags.stdout.split() + ["-lm"], capture_output=True, text=True)
check(r.returncode == 0, "compile the example against the installed library: %s" % r.stderr)
ldd = subprocess.run(["ldd", exe], capture_output=True, text=True,
                     env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib")))
check(os.path.join(prefix, "lib", "libmlshift.so") in ldd.stdout,
      "the example links the installed shared library: %s" % ldd.stdout)

model = os.path.join(stage, "m.model")
check(run("model", "init", "--elements", "H,C,O", "--features", "8", "--blocks", "2",
          "--seed", "4", "-o", model)[0] == 0, "model init")
stats = os.path.join(stage, "b.stats")
check(run("stats", data("rmd17/rmd17_benzene_train_01.npz"), "--split", "200,0,0", "--part",
          "train", "-o", stats, "--quiet")[0] == 0, "stats")
frames = os.path.join(stage, "asp.extxyz")
check(run("convert", data("rmd17/rmd17_aspirin_test_01.npz"), "--split", "4,0,0", "--part",
          "train", "-o", frames, "--quiet")[0] == 0, "convert")
pred = os.path.join(stage, "pred.extxyz")
r = run("predict", "--model", model, "--refine-radius", stats, frames, "-o", pred, "--quiet")
check(r[0] == 0, "predict: %s" % r[2])
if os.path.exists(exe) and r[0] == 0:
    p = subprocess.run([exe, model, stats, frames], capture_output=True, text=True,
                       env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib")))
    check(p.returncode == 0, "the example runs: %s" % p.stderr)
    lines = p.stdout.splitlines()
    check(lines and lines[0].startswith("mlshift 0.1.0"), "version line: %r" % lines[:1])
    rows = np.array([[float(x) for x in ln.split()] for ln in lines[1:]])
    ref = read(pred, ":")
    check(rows.shape == (len(ref), 4), "one line per structure: %s" % (rows.shape,))
    if rows.shape == (len(ref), 4):
        close(rows[:, 1], [a.info["pred_radius"] for a in ref], 1e-12, 0, "refined radii")
        close(rows[:, 2], [a.info["pred_energy"] for a in ref], 1e-12, 0, "energies")
        close(rows[:, 3], [np.linalg.norm(a.arrays["pred_forces"], axis=1).max() for a in ref],
              1e-12, 0, "max |F|")
done()
