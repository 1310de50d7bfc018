# SPDX-License-Identifier: MIT
"""The Python twin of tests/check.h: count checks, print the closing line.

Reference tests run with Debian's /usr/bin/python3 (numpy, ASE, h5py) and
drive the `mlshift` binary or read what it wrote.

Every reference scripts/install-deps installs (numpy, ASE, h5py, torch, the
xtb program) and every test binary is required: its absence is a failure,
never a quiet "0 passed, 0 failed". require() says so by name. A test that
does not apply where it runs (not: whose reference is missing) calls skip(),
which closes with "N passed, N failed, 1 skipped" and the reason. done()
with no check run is a failure: a test that checks nothing proves nothing."""
import importlib
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


def require(module, package):
    """Imports a required reference module, or fails (and closes) saying
    which Debian package scripts/install-deps would have installed."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        check(False, "required reference %s missing (Debian %s; run scripts/install-deps): %s"
              % (module, package, exc))
        done()


def skip(reason):
    """Closes a test that does not apply here, with the reason; counted as
    skipped by scripts/run-tests. Not for a missing required reference."""
    print("SKIPPED: " + reason)
    print("%d passed, %d failed, 1 skipped" % (passed, failed))
    sys.exit(1 if failed else 0)


def done():
    if passed + failed == 0:
        check(False, "no check ran (a test that cannot fail; call skip() if it does not apply)")
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
