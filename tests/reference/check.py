# SPDX-License-Identifier: MIT
"""The Python twin of tests/check.h: count checks, print the closing line.

Reference tests run with Debian's /usr/bin/python3 (numpy, ASE, h5py) and
drive the `mlshift` binary or read what it wrote."""
import os
import subprocess
import sys

passed = 0
failed = 0

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(ROOT, "..", "shared", "data")
MLSHIFT = os.environ.get("MLSHIFT_BIN") or os.path.join(ROOT, "build", "mlshift")


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL " + msg, file=sys.stderr)


def close(got, want, atol, rtol, msg):
    """Arrays (or scalars) equal within atol + rtol*|want|; reports the worst."""
    import numpy as np
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        check(False, "%s: shape %s, want %s" % (msg, got.shape, want.shape))
        return
    excess = np.abs(got - want) - (atol + rtol * np.abs(want))
    ok = bool(np.all(excess <= 0))
    if not ok:
        i = np.unravel_index(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)), excess.shape)
        msg += ": worst %s: got %r, want %r" % (i, got[i], want[i])
    check(ok, msg)


def run(*args, ok=True):
    """Runs mlshift; returns (exit code, stdout, stderr)."""
    p = subprocess.run([MLSHIFT] + [str(a) for a in args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def data(rel):
    return os.path.join(DATA, rel)


def done():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
