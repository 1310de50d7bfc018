# SPDX-License-Identifier: MIT
"""`mlshift jobs FILE` in one process (cli/jobs.c; over MPI ranks in
test_mpi.py), no MPI needed:
- the commands run in line order, comments and blank lines skipped,
  stdout as the lines print it; -j 3 runs three at once (wall time) and
  prints the same stdout in line order;
- a failing line (exit status, a signal) is named with its line number,
  status and command; every other line still runs; exit 2;
- bad inputs (no file, a missing, empty or comment-only file, a
  directory, a NUL byte, -j 0, -j 257, two files, an unknown option):
  one message each, exit 2, nothing run;
- a line's environment has no OMPI_*, PMIX_*, PMI_* variable (others
  pass), its stdin is /dev/null;
- SIGTERM to mlshift ends the running line's whole process group."""
import os
import signal
import subprocess
import tempfile
import time

from check import MLSHIFT, check, done

tmp = tempfile.mkdtemp(prefix="mlshift-jobs-")
P = lambda x: os.path.join(tmp, x)


def jobs_file(name, lines):
    with open(P(name), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return P(name)


def jobs(*args, env=None):
    p = subprocess.run([MLSHIFT, "jobs"] + list(args), capture_output=True, text=True, cwd=tmp,
                       env=env, stdin=subprocess.PIPE)
    return p.returncode, p.stdout, p.stderr


def messages(err):
    return [x for x in err.splitlines() if x.startswith("mlshift: ")]


# --- order, comments, -j
f = jobs_file("six.jobs", ["# first a comment", "", "echo a", "  # indented comment",
                           "sleep 0.4; echo b", "echo c; echo c2", "\t", "sleep 0.4; echo d",
                           "sleep 0.4; echo e"])
r = jobs(f)
check(r[0] == 0 and r[1] == "a\nb\nc\nc2\nd\ne\n", "serial: stdout in line order: %r" % (r,))
check(r[2].count("ended after") == 5, "one progress line per command: %r" % r[2])
t0 = time.time()
r3 = jobs("-j", "3", "--quiet", f)
wall = time.time() - t0
check(r3[0] == 0 and r3[1] == r[1], "-j 3: the serial stdout in line order: %r" % (r3,))
check(wall < 1.1, "-j 3: three 0.4 s sleeps side by side (%.2f s, serially 1.2 s)" % wall)
check(r3[2] == "", "--quiet: nothing on stderr: %r" % r3[2])

# --- failures: named, the rest still runs
for x in ("after1", "after2"):
    if os.path.exists(P(x)):
        os.remove(P(x))
f = jobs_file("fail.jobs", ["true", "exit 7", "touch after1", "kill -9 $$", "touch after2"])
r = jobs("--quiet", f)
m = messages(r[2])
check(r[0] == 2, "a failed line: exit 2 (%d)" % r[0])
check(len(m) == 3 and "fail.jobs:2 failed (exit status 7, rank 0): exit 7" in m[0],
      "line 2 named with its status and command: %r" % m)
check(len(m) == 3 and "fail.jobs:4 failed (killed by signal 9" in m[1], "line 4: the signal: %r" % m)
check(len(m) == 3 and "2 of 5 commands of" in m[2], "one summary: %r" % m)
check(os.path.exists(P("after1")) and os.path.exists(P("after2")),
      "the lines after a failed one ran")

# --- bad inputs: one message, exit 2, nothing run
marker = jobs_file("marker.jobs", ["touch ran"])
with open(P("nul.jobs"), "wb") as fh:
    fh.write(b"touch ran\necho a\x00b\n")
for args, want in (([], "no jobs file"),
                   (["nosuch.jobs"], "nosuch.jobs: No such file or directory"),
                   ([jobs_file("empty.jobs", [])[:-len("empty.jobs")] + "empty.jobs"],
                    "has no command"),
                   ([jobs_file("comments.jobs", ["# a", "  ", "#b"])], "only blank lines and #"),
                   ([tmp], "Is a directory"),
                   ([P("nul.jobs")], "line 2 holds a NUL byte"),
                   (["-j", "0", marker], "from 1 to 256"),
                   (["-j", "257", marker], "from 1 to 256"),
                   ([marker, "-j"], "needs a value"),
                   ([marker, marker], "one jobs file"),
                   (["--bogus", marker], "unknown option '--bogus'")):
    if args and args[0].endswith("empty.jobs"):
        open(args[0], "w").close()
    r = jobs(*args)
    m = messages(r[2])
    check(r[0] == 2 and len(m) == 1 and want in m[0],
          "jobs %r: exit 2 and one message naming %r: %r" % (args, want, (r[0], m)))
check(not os.path.exists(P("ran")), "no bad input ran a command")

# --- the line's environment and stdin
# (sizes of 1: with more, plain mlshift itself refuses to start)
env = dict(os.environ, OMPI_COMM_WORLD_SIZE="1", PMIX_RANK="0", PMI_SIZE="1",
           MLSHIFT_JOBS_TEST="kept")
f = jobs_file("env.jobs", ["env | grep -cE '^(OMPI|PMIX|PMI)_' || true",
                           "echo $MLSHIFT_JOBS_TEST", "cat; echo stdin-done"])
r = jobs(f, env=env)
check(r[0] == 0 and r[1] == "0\nkept\nstdin-done\n",
      "no OMPI_/PMIX_/PMI_ variable reaches a line, others do; stdin is empty: %r" % (r,))

# --- SIGTERM to mlshift ends the line's process group (a pipeline)
f = jobs_file("long.jobs", ["echo $$ > pgid; sleep 30 | cat"])
p = subprocess.Popen([MLSHIFT, "jobs", "--quiet", f], cwd=tmp, stderr=subprocess.PIPE)
for _ in range(100):
    if os.path.exists(P("pgid")) and open(P("pgid")).read().strip():
        break
    time.sleep(0.05)
time.sleep(0.2)
pgid = int(open(P("pgid")).read())
p.send_signal(signal.SIGTERM)
p.wait(timeout=10)
check(p.returncode == -signal.SIGTERM, "mlshift ended by SIGTERM (%r)" % p.returncode)
alive = True
for _ in range(50):
    try:
        os.killpg(pgid, 0)
        time.sleep(0.05)
    except ProcessLookupError:
        alive = False
        break
check(not alive, "the line's process group (sh, sleep, cat) is gone after SIGTERM")
if alive:
    os.killpg(pgid, signal.SIGKILL)
print("jobs: line order, -j 3 in %.2f s, failures named, 11 bad inputs refused, "
      "environment, SIGTERM" % wall)
done()
