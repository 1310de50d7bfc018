# SPDX-License-Identifier: MIT
"""The BLAS path of the matrix products, as on a CPU without AVX-512
(src/nn/small_gemm.c's kernels off through MLSHIFT_SMALL_GEMM=0; this
machine has AVX-512, so without the variable every small product takes
the kernels). The model tests, which check forces against finite
differences, float32 against float64 and the model file, and the op tests
pass with the kernels off (the model tests with the same number of checks
as with them on: their float32 checks cover the float path), and a model's
energy and forces through `mlshift predict` agree between the two paths to
rounding."""
import os
import shutil
import subprocess
import tempfile

from check import MLSHIFT, check, done

build = os.path.dirname(MLSHIFT)


def closing(exe, env):
    r = subprocess.run([exe], capture_output=True, text=True, env=env)
    last = (r.stdout.strip().splitlines() or [""])[-1]
    return r.returncode, last


on = dict(os.environ)
on.pop("MLSHIFT_SMALL_GEMM", None)
off = dict(on, MLSHIFT_SMALL_GEMM="0")
for name in ["test_model", "test_model_api", "test_nn_ops"]:
    exe = os.path.join(build, "tests", name)
    check(os.access(exe, os.X_OK), "the test binary %s is built" % exe)
    if not os.access(exe, os.X_OK):
        continue
    rc_on, last_on = closing(exe, on)
    rc_off, last_off = closing(exe, off)
    check(rc_off == 0 and last_off.endswith(" 0 failed"),
          "%s with MLSHIFT_SMALL_GEMM=0 passes: %r" % (name, last_off))
    if name != "test_nn_ops":  # its kernel test has checks of its own for each case
        check(last_on.split(" passed")[0] == last_off.split(" passed")[0],
              "%s runs as many checks with the kernels off as on: %r against %r"
              % (name, last_off, last_on))

# energy and forces of one model through the command line, both paths
tmp = tempfile.mkdtemp(prefix="mlshift-blas-")
model = os.path.join(tmp, "m.model")
xyz = os.path.join(tmp, "w.extxyz")
with open(xyz, "w") as fh:
    fh.write("3\nProperties=species:S:1:pos:R:3\nO 0.0 0.0 0.1\nH 0.76 0.0 -0.45\n"
             "H -0.74 0.05 -0.47\n")
r = subprocess.run([MLSHIFT, "model", "init", "--elements", "H,O", "--features", "32",
                    "-o", model], capture_output=True, text=True)
check(r.returncode == 0, "model init: %s" % r.stderr)
res = {}
for label, env in (("on", on), ("off", off)):
    out = os.path.join(tmp, "p_%s.extxyz" % label)
    r = subprocess.run([MLSHIFT, "predict", "--model", model, xyz, "-o", out, "--quiet"],
                       capture_output=True, text=True, env=env)
    check(r.returncode == 0, "predict (kernels %s): %s" % (label, r.stderr))
    res[label] = open(out).read() if r.returncode == 0 else ""


def numbers(text):
    vals = []
    for tok in text.replace("=", " ").replace('"', " ").split():
        try:
            vals.append(float(tok))
        except ValueError:
            pass
    return vals


a, b = numbers(res["on"]), numbers(res["off"])
worst = max((abs(x - y) / (1 + abs(y)) for x, y in zip(a, b)), default=float("inf"))
check(len(a) == len(b) and len(a) > 10 and worst <= 1e-10,
      "predict: kernels on and off agree to 1e-10 (worst %.2g over %d numbers)"
      % (worst, len(a)))
shutil.rmtree(tmp, ignore_errors=True)
done()
