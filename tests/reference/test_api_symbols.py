# SPDX-License-Identifier: MIT
"""libmlshift.so exports exactly the public API: every dynamic symbol it
defines (`nm -D --defined-only`) is a function declared in
include/mlshift.h, and every function declared there is exported (the
library is built with -fvisibility=hidden; the header's pragma and
MLSHIFT_API make its declarations public). The static library still
carries the internal functions the tests link. And the commands that are
clients of the public header alone compile with nothing but include/ on
the include path (no src/), so they cannot reach an internal header."""
import os
import re
import subprocess

from check import check, done, MLSHIFT, ROOT

build = os.path.dirname(MLSHIFT)
so = os.path.join(build, "libmlshift.so")
check(os.path.exists(so), "%s exists" % so)
r = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True)
check(r.returncode == 0, "nm -D: %s" % r.stderr)
exported = set()
for line in r.stdout.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "TtWwDdBbRrVvGgSsi":
        exported.add(parts[2].split("@")[0])
# names of functions: "name(" not preceded by "(*" (a function-pointer typedef)
header = open(os.path.join(ROOT, "include", "mlshift.h")).read()
header = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)       # comments
declared = set(re.findall(r"(?<!\(\*)\b(mlshift_\w+)\s*\((?!\s*\*)", header))
types = set(re.findall(r"\}\s*(mlshift_\w+)\s*;", header)) | \
    set(re.findall(r"typedef\s+\w+\s+(mlshift_\w+)\s*;", header)) | {"mlshift_status"}
declared -= types
check(len(declared) > 100, "found %d declared functions" % len(declared))
extra = sorted(exported - declared)
check(not extra, "exported but not declared in mlshift.h (%d): %s" % (len(extra), " ".join(extra[:40])))
missing = sorted(declared - exported)
check(not missing, "declared but not exported (%d): %s" % (len(missing), " ".join(missing[:40])))
for name in ("mlshift_version", "mlshift_calc_compute", "mlshift_train", "mlshift_ttt",
             "mlshift_model_create"):
    check(name in exported, "%s is exported" % name)
# internal names stay inside
for name in ("ms_model_predict", "ms_train", "ms_fail"):
    check(name not in exported, "%s is not exported" % name)
ar = subprocess.run(["nm", "--defined-only", os.path.join(build, "libmlshift.a")],
                    capture_output=True, text=True)
check(" T ms_model_predict" in ar.stdout, "the static library keeps internal functions for tests")
public_cli = ["model.c", "sgdml.c", "train.c", "ttt.c", "trainio.c", "evaluate.c", "info.c",
              "mlshift.c"]
for name in public_cli:
    src = os.path.join(ROOT, "cli", name)
    r = subprocess.run(["cc", "-fsyntax-only", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
                        "-I" + os.path.join(ROOT, "include"), src], capture_output=True, text=True)
    check(r.returncode == 0, "cli/%s compiles with include/ alone: %s" % (name, r.stderr[-800:]))
    text = re.sub(r"/\*.*?\*/", " ", open(src).read(), flags=re.S)
    internal = sorted(set(re.findall(r"\b(ms_\w+|MS_\w+)", text)))
    check(not internal, "cli/%s names no internal identifier: %s" % (name, internal[:10]))
done()
