# SPDX-License-Identifier: MIT
"""Every make target the README names installs the Debian packages before
it compiles anything, with the compiler flags pkg-config gives *after* the
install (issue 12 §1: `make demo` on a fresh machine used to fail with
"hdf5.h: No such file or directory", its flags read when the Makefile was
parsed, before scripts/install-deps had run).

A fresh machine, simulated: a copy of the Makefile and scripts/ beside links
to the sources, in which scripts/install-deps only creates a marker file;
on PATH, a pkg-config that knows hdf5 and xtb only once the marker exists
(as a machine without the -dev packages, or without pkg-config, does not),
and a compiler (CC, clang) that records its arguments and whether the
marker existed, then fails, so that make stops at its first compile. Each
target, serial and with -j4, must have compiled with the flags from after
the install."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

# target and its arguments, as the README writes them
TARGETS = [[], ["demo"], ["check"], ["bench"], ["fuzz"], ["install", "PREFIX=@/prefix"]]

FAKE_PKG_CONFIG = """#!/bin/sh
# Knows hdf5 and xtb only after the (fake) install.
[ -e "$FAKE_DIR/installed" ] || exit 1
out=""
mode=""
for a in "$@"; do
    case "$a" in
        --cflags) mode=cflags ;;
        --libs) mode=libs ;;
        -*) ;;
        *) if [ "$mode" = cflags ]; then out="$out -I/fake-after-install/$a"
           else out="$out -lfake_$a"; fi ;;
    esac
done
echo $out
"""

FAKE_CC = """#!/bin/sh
# Records one line per call, then fails: make stops at its first compile.
if [ -e "$FAKE_DIR/installed" ]; then m=after-install; else m=before-install; fi
echo "$(basename "$0") $m $*" >> "$FAKE_DIR/cc.log"
exit 1
"""

FAKE_INSTALL_DEPS = """#!/bin/sh
echo "install-deps $*" >> "$FAKE_DIR/cc.log"
touch "$FAKE_DIR/installed"
"""

# scripts/fuzz asks dpkg-query whether clang is installed.
FAKE_DPKG_QUERY = """#!/bin/sh
printf 'install ok installed'
"""

FAKE_REFUSE = """#!/bin/sh
echo "$(basename "$0") must not run in this test: $*" >&2
exit 1
"""


def write_exe(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fresh_tree(tmp):
    """The repository as make sees it, with scripts/install-deps faked."""
    repo = os.path.join(tmp, "repo")
    os.mkdir(repo)
    for name in ("src", "cli", "include", "tests", "bench", "mlshift.pc.in"):
        os.symlink(os.path.join(check.ROOT, name), os.path.join(repo, name))
    shutil.copy(os.path.join(check.ROOT, "Makefile"), repo)
    shutil.copytree(os.path.join(check.ROOT, "scripts"), os.path.join(repo, "scripts"))
    write_exe(os.path.join(repo, "scripts", "install-deps"), FAKE_INSTALL_DEPS)
    bin_dir = os.path.join(tmp, "bin")
    os.mkdir(bin_dir)
    write_exe(os.path.join(bin_dir, "pkg-config"), FAKE_PKG_CONFIG)
    for cc in ("fakecc", "clang"):
        write_exe(os.path.join(bin_dir, cc), FAKE_CC)
    write_exe(os.path.join(bin_dir, "dpkg-query"), FAKE_DPKG_QUERY)
    for name in ("apt-get", "sudo"):
        write_exe(os.path.join(bin_dir, name), FAKE_REFUSE)
    return repo, bin_dir


def run_target(tmp, repo, bin_dir, target, jobs):
    fake = os.path.join(tmp, "fake")
    shutil.rmtree(fake, ignore_errors=True)
    os.mkdir(fake)
    for d in ("build", "build-san", "build-fuzz"):
        shutil.rmtree(os.path.join(repo, d), ignore_errors=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CC",
                        "CFLAGS", "CPPFLAGS", "B")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["FAKE_DIR"] = fake
    args = [a.replace("@", tmp) for a in target]
    p = subprocess.run(["make", "-j%d" % jobs, "CC=fakecc"] + args, cwd=repo, env=env,
                       capture_output=True, text=True, timeout=120)
    log_path = os.path.join(fake, "cc.log")
    log = open(log_path).read().splitlines() if os.path.exists(log_path) else []
    return p, log


def main():
    with tempfile.TemporaryDirectory(prefix="mlshift-make-") as tmp:
        repo, bin_dir = fresh_tree(tmp)
        for target in TARGETS:
            for jobs in (1, 4):
                name = "make -j%d %s" % (jobs, " ".join(target) or "(no target)")
                p, log = run_target(tmp, repo, bin_dir, target, jobs)
                compiles = [line for line in log if not line.startswith("install-deps")]
                check.check(log and log[0].startswith("install-deps"),
                            "%s: scripts/install-deps runs first; calls were %r\n%s"
                            % (name, log[:3], p.stderr[-1500:]))
                check.check(len(compiles) > 0, "%s: compiles something (fake compiler "
                            "never called)\n%s" % (name, p.stderr[-1500:]))
                bad = [c for c in compiles if " before-install " in c
                       or "-I/fake-after-install/hdf5" not in c.split()
                       or "-I/fake-after-install/xtb" not in c.split()]
                check.check(not bad, "%s: compiled without the hdf5 and xtb flags that "
                            "pkg-config gives after the install: %s"
                            % (name, bad[0][:400] if bad else ""))
    check.done()


if __name__ == "__main__":
    main()
