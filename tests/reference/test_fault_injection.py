# SPDX-License-Identifier: MIT
"""A test's own I/O failures fail it (issue 12 §2): tests/test_model_api.c
reopens the model file it saved to corrupt it, and once ignored what fopen
returned. Here fopen(…, "r+b") is made to fail inside that test (a shim
preloaded with LD_PRELOAD, compiled here), which must then report the
failure by name and exit non-zero, where without the shim it passes.
(Skipped in the sanitizer build: its runtime must come first in the
process, so nothing can be preloaded before it.)"""
import os
import subprocess
import tempfile

from check import MLSHIFT, check, done, skip

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: LD_PRELOAD would come before its runtime")
exe = os.path.join(build, "tests", "test_model_api")
check(os.access(exe, os.X_OK), "the test binary %s is built" % exe)

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
/* fopen fails for the mode named by FAIL_FOPEN_MODE, as a full disk or a
 * permission change would; every other call goes to the C library. */
FILE *fopen(const char *path, const char *mode)
{
    static FILE *(*real)(const char *, const char *);
    if (!real)
        real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
    const char *fail = getenv("FAIL_FOPEN_MODE");
    if (fail && strcmp(mode, fail) == 0) {
        errno = EACCES;
        return NULL;
    }
    return real(path, mode);
}
"""
tmp = tempfile.mkdtemp(prefix="mlshift-fault-")
src, so = os.path.join(tmp, "shim.c"), os.path.join(tmp, "shim.so")
with open(src, "w") as fh:
    fh.write(SHIM.replace("#include <string.h>", "#include <string.h>\n#include <stdlib.h>"))
r = subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src, "-ldl"], capture_output=True, text=True)
check(r.returncode == 0, "compile the fopen shim: %s" % r.stderr)

if os.access(exe, os.X_OK) and r.returncode == 0:
    clean = subprocess.run([exe], capture_output=True, text=True)
    last = clean.stdout.strip().splitlines()[-1:] or [""]
    check(clean.returncode == 0 and last[0].endswith(" 0 failed"),
          "without the shim test_model_api passes: %r" % last[0])
    env = dict(os.environ, LD_PRELOAD=so, FAIL_FOPEN_MODE="r+b")
    hurt = subprocess.run([exe], capture_output=True, text=True, env=env)
    out = hurt.stdout + hurt.stderr
    last = hurt.stdout.strip().splitlines()[-1:] or [""]
    check(hurt.returncode != 0, "with fopen failing, test_model_api exits non-zero (%d)"
          % hurt.returncode)
    check("FAIL" in out and "reopen" in out,
          "the failure names the reopen: %r" % out[-400:])
    check(last[0].endswith("failed") and not last[0].endswith(" 0 failed"),
          "its closing line counts a failure: %r" % last[0])
done()
