# SPDX-License-Identifier: MIT
"""The test harnesses can fail (issue 12 §2): scripts/run-tests counts a
test that ran no check and did not declare a skip as a failure, names
skips with their reason and adds them up in the closing line; the Python
harness (check.py) and the C one (tests/check.h) fail a test that checked
nothing, fail a missing required reference and close a skip with
"N passed, N failed, 1 skipped".

run-tests runs on a fake build directory of shell-script tests, each
printing a chosen closing line and exit status."""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

RUN_TESTS = os.path.join(check.ROOT, "scripts", "run-tests")
CLOSING = re.compile(r"^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$")

# name: (what it prints, exit status)
FAKES = {
    "test_ok": ("3 passed, 0 failed", 0),
    "test_zero": ("0 passed, 0 failed", 0),
    "test_skip": ("SKIPPED: needs two CPUs\n0 passed, 0 failed, 1 skipped", 0),
    "test_silent": ("", 0),
    "test_crash": ("2 passed, 0 failed", 134),
    "test_fail": ("1 passed, 2 failed", 1),
}


def write_exe(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def run_tests(tmp, names):
    """scripts/run-tests on a build dir holding the named fakes; returns
    (exit status, stdout lines)."""
    work = tempfile.mkdtemp(dir=tmp)
    os.makedirs(os.path.join(work, "build", "tests"))
    for name in names:
        out, rc = FAKES[name]
        write_exe(os.path.join(work, "build", "tests", name),
                  "#!/bin/sh\nprintf '%%s\\n' '%s'\nexit %d\n"
                  % (out.replace("\n", "' '"), rc) if out else "#!/bin/sh\nexit %d\n" % rc)
    p = subprocess.run(["sh", RUN_TESTS, "build"], cwd=work, capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def test_run_tests(tmp):
    rc, out = run_tests(tmp, ["test_ok"])
    check.check(rc == 0 and out[-1] == "3 passed, 0 failed",
                "one good test: exit %d, last line %r" % (rc, out[-1:]))
    rc, out = run_tests(tmp, ["test_zero"])
    check.check(rc == 1 and out[-1] == "0 passed, 1 failed",
                "a test that ran no check is a failure: exit %d, last line %r" % (rc, out[-1:]))
    check.check(any("test_zero: FAILED" in line and "no check ran" in line for line in out),
                "the zero-check test is named with the reason: %r" % out)
    rc, out = run_tests(tmp, ["test_ok", "test_skip"])
    check.check(rc == 0 and out[-1] == "3 passed, 0 failed, 1 skipped",
                "a skip is counted, not failed: exit %d, last line %r" % (rc, out[-1:]))
    check.check(any("test_skip" in line and "SKIPPED (needs two CPUs)" in line for line in out),
                "the skip is named with its reason: %r" % out)
    check.check("skipped: test_skip" in out, "skips listed before the closing line: %r" % out)
    rc, out = run_tests(tmp, ["test_silent"])
    check.check(rc == 1 and out[-1] == "0 passed, 1 failed", "no closing line: %r" % out[-1:])
    rc, out = run_tests(tmp, ["test_crash"])
    check.check(rc == 1 and out[-1] == "2 passed, 1 failed", "a crash after its line: %r"
                % out[-1:])
    rc, out = run_tests(tmp, sorted(FAKES))
    check.check(rc == 1 and out[-1] == "6 passed, 5 failed, 1 skipped",
                "all together: exit %d, last line %r" % (rc, out[-1:]))
    check.check(bool(CLOSING.match(out[-1])), "closing line shape: %r" % out[-1])


def py_harness(tmp, body):
    path = os.path.join(tmp, "t.py")
    with open(path, "w") as fh:
        fh.write("import sys\nsys.path.insert(0, %r)\nimport check\n%s\n"
                 % (os.path.dirname(os.path.abspath(__file__)), body))
    p = subprocess.run([sys.executable, path], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def test_python_harness(tmp):
    rc, out = py_harness(tmp, "check.done()")
    check.check(rc == 1 and out[-1:] == ["0 passed, 1 failed"],
                "check.py: no check is a failure: exit %d, %r" % (rc, out))
    rc, out = py_harness(tmp, "check.check(True, 'x')\ncheck.skip('not here')")
    check.check(rc == 0 and out[-2:] == ["SKIPPED: not here", "1 passed, 0 failed, 1 skipped"],
                "check.py: skip: exit %d, %r" % (rc, out))
    rc, out = py_harness(tmp, "check.require('mlshift_no_such_module', 'python3-nothing')\n"
                         "check.check(True, 'never reached')\ncheck.done()")
    check.check(rc == 1 and out[-1:] == ["0 passed, 1 failed"],
                "check.py: a missing required module fails: exit %d, %r" % (rc, out))
    rc, out = py_harness(tmp, "np = check.require('numpy', 'python3-numpy')\n"
                         "check.check(np.zeros(2).size == 2, 'numpy')\ncheck.done()")
    check.check(rc == 0 and out[-1:] == ["1 passed, 0 failed"],
                "check.py: a present required module: exit %d, %r" % (rc, out))


def test_missing_references(tmp):
    """The real reference tests, with their reference taken away: torch
    hidden behind a module that fails to import, or the C test binary they
    drive absent. Each must fail (exit 1, "0 passed, 1 failed"), never
    pass with nothing checked (issue 12 §2)."""
    here = os.path.dirname(os.path.abspath(__file__))
    shim = os.path.join(tmp, "no-torch")
    os.makedirs(shim, exist_ok=True)
    with open(os.path.join(shim, "torch.py"), "w") as fh:
        fh.write("raise ImportError('torch hidden by test_harness.py')\n")
    env = dict(os.environ, PYTHONPATH=shim)
    for name in ["test_model_torch.py", "test_nn_torch.py"]:
        p = subprocess.run([sys.executable, os.path.join(here, name)], capture_output=True,
                           text=True, env=env)
        out = p.stdout.splitlines()
        check.check(p.returncode == 1 and out[-1:] == ["0 passed, 1 failed"] and
                    "python3-torch" in p.stdout + p.stderr,
                    "%s without torch fails: exit %d, %r" % (name, p.returncode, out[-2:]))
    env = dict(os.environ, MLSHIFT_BIN=os.path.join(tmp, "no-build", "mlshift"))
    p = subprocess.run([sys.executable, os.path.join(here, "test_sgdml_numpy.py")],
                       capture_output=True, text=True, env=env)
    out = p.stdout.splitlines()
    check.check(p.returncode == 1 and out[-1:] == ["0 passed, 1 failed"] and
                "no test binary" in p.stdout + p.stderr,
                "test_sgdml_numpy.py without its binary fails: exit %d, %r"
                % (p.returncode, out[-2:]))


def c_harness(tmp, body):
    src = os.path.join(tmp, "t.c")
    exe = os.path.join(tmp, "t")
    with open(src, "w") as fh:
        fh.write('#include "check.h"\nint main(void)\n{\n%s\n}\n' % body)
    cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
    p = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
                        "-I" + os.path.join(check.ROOT, "tests"), src, "-o", exe, "-lm"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.splitlines()
    p = subprocess.run([exe], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines()


def test_c_harness(tmp):
    rc, out = c_harness(tmp, "return check_done();")
    check.check(rc == 1 and out[-1:] == ["0 passed, 1 failed"],
                "check.h: no check is a failure: exit %r, %r" % (rc, out))
    rc, out = c_harness(tmp, 'CHECK(1, "x");\nreturn check_skip("not here");')
    check.check(rc == 0 and out[-2:] == ["SKIPPED: not here", "1 passed, 0 failed, 1 skipped"],
                "check.h: skip: exit %r, %r" % (rc, out))


def main():
    with tempfile.TemporaryDirectory(prefix="mlshift-harness-") as tmp:
        test_run_tests(tmp)
        test_python_harness(tmp)
        test_missing_references(tmp)
        test_c_harness(tmp)
    check.done()


if __name__ == "__main__":
    main()
