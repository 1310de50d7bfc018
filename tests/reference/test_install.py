# SPDX-License-Identifier: MIT
"""`make install` into a staging directory gives a command, a header, both
libraries and a pkg-config file with which a small program compiles, links
and runs. (Skipped in the sanitizer build, whose objects need the
sanitizer runtime.)"""
import os
import subprocess
import tempfile

from check import check, done, skip, MLSHIFT, ROOT

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: its objects need the sanitizer runtime")
stage = tempfile.mkdtemp(prefix="mlshift-install-")
prefix = os.path.join(stage, "usr")
r = subprocess.run(["make", "-s", "install", "PREFIX=" + prefix, "B=" + os.path.relpath(build, ROOT)],
                   cwd=ROOT, capture_output=True, text=True)
check(r.returncode == 0, "make install: %s" % r.stderr[-2000:])
for rel in ("bin/mlshift", "include/mlshift.h", "lib/libmlshift.a", "lib/libmlshift.so",
            "lib/pkgconfig/mlshift.pc"):
    check(os.path.exists(os.path.join(prefix, rel)), "installed %s" % rel)
prog = os.path.join(stage, "use.c")
with open(prog, "w") as fh:
    fh.write('#include <mlshift.h>\n#include <stdio.h>\n'
             'int main(void) { printf("%d %s\\n", mlshift_element_number("Cu"), MLSHIFT_VERSION);'
             ' return 0; }\n')
env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
flags = subprocess.run(["pkg-config", "--cflags", "--libs", "--static", "mlshift"],
                       capture_output=True, text=True, env=env)
check(flags.returncode == 0, "pkg-config mlshift: %s" % flags.stderr)
exe = os.path.join(stage, "use")
r = subprocess.run(["cc", prog, "-o", exe] + flags.stdout.split(), capture_output=True, text=True)
check(r.returncode == 0, "compile against the installed library: %s" % r.stderr[-2000:])
if r.returncode == 0:
    r = subprocess.run([exe], capture_output=True, text=True,
                       env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib")))
    check(r.stdout.split()[0] == "29", "program using the library runs: %r" % r.stdout)
r = subprocess.run([os.path.join(prefix, "bin", "mlshift"), "--version"], capture_output=True, text=True)
check(r.returncode == 0 and r.stdout.startswith("mlshift "), "installed command runs")
done()
