# SPDX-License-Identifier: MIT
"""MPI (Debian OpenMPI; cli/mpi.c, docs/mpi.md):
- `mpirun -n 2 mlshift-mpi train`: final weights equal the one-process
  run's to rounding (every tensor, read from the model file by this test's
  own reader of the documented format), the per-step losses too; batches
  of molecules of different sizes with a ragged last batch, so a shard's
  energy and force weights must follow its structures and atoms;
- the comparison can fail: another batch size gives other weights;
- `mpirun -n 2 mlshift-mpi ttt`: ranks take whole groups; the adapted
  models equal the one-process run's and one report lists every group;
- `mpirun -n 2 mlshift-mpi label` and `diagnose`: ranks take alternate
  frames; rank 0 writes every output (extxyz; CSV, JSON, binned errors,
  report) byte for byte as one process does, over several chunks and a
  ragged last one, read whole (--split) and streamed;
- a failure on one rank (a prior that fails on rank 1's frame, an unknown
  element every rank reads, too few predictions) exits 2 with one
  message and writes nothing;
- `mpirun -n 2 mlshift-mpi jobs`: both ranks take lines, each line runs
  exactly once, stdout is the serial run's (line order), a plain mlshift
  in a line runs (the MPI variables were removed); a failing line is
  named, the others still run, exit non-zero; a missing or empty file,
  more ranks than lines, a bad -j: one message, non-zero exit;
- bench/md17/table7 (8 tiny MD runs) with MPI=2 writes the serial
  table7.json;
- plain `mlshift` started as 2 MPI processes refuses (exit 2).
OpenMPI comes from scripts/install-deps; where that could not install it
(make check then says so), SKIPPED; CI installs strictly and fails before.
Not applicable to the sanitizer build (OpenMPI's own allocations)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from check import MLSHIFT, check, close, data, done, run, skip

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: OpenMPI's allocations are reported as leaks")
if not shutil.which("mpirun") or not shutil.which("mpicc"):
    skip("OpenMPI not installed (Debian openmpi-bin, libopenmpi-dev: scripts/install-deps "
         "could not install them)")
import numpy as np  # noqa: E402

MPI_BIN = os.path.join(build, "mlshift-mpi")
check(os.access(MPI_BIN, os.X_OK), "make built %s (mpicc is installed)" % MPI_BIN)
tmp = tempfile.mkdtemp(prefix="mlshift-mpi-")
P = lambda x: os.path.join(tmp, x)
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "2"]


def mpirun(binary, *args):
    p = subprocess.run(MPIRUN + [binary] + [str(a) for a in args], capture_output=True,
                       text=True, cwd=tmp)
    return p.returncode, p.stdout, p.stderr


def tensors(path):
    """name -> array, from the model file layout of src/model/model_file.c."""
    b = open(path, "rb").read()
    o = [0]

    def take(fmt):
        v = struct.unpack_from("<" + fmt, b, o[0])
        o[0] += struct.calcsize("<" + fmt)
        return v

    def string():
        (n,) = take("I")
        s = b[o[0]:o[0] + n].decode()
        o[0] += n
        return s

    assert b[:8] == b"MLSHIFTM"
    o[0] = 8
    (version,) = take("I")
    string()
    take("5I")
    if version >= 3:
        take("I")  # readout_every
    take("2d")
    string()
    (S,) = take("I")
    take("%di" % S)
    (n,) = take("Q")
    o[0] += n
    if version >= 2:
        (n,) = take("Q")
        o[0] += n
    (count,) = take("I")
    out = {}
    for _ in range(count):
        name = string()
        _, _, ndim = take("3I")
        shape = take("%dQ" % ndim) if ndim else ()
        numel = int(np.prod(shape)) if ndim else 1
        out[name] = np.array(take("%dd" % numel)).reshape(shape)
    return out


# --- two molecules of different sizes: 12 + 18 atoms
benz, eth = P("benzene.extxyz"), P("naphthalene.extxyz")
run("convert", data("rmd17/rmd17_benzene_train_01.npz"), "--split", "10,0,0", "--part", "train",
    "-o", benz, "--quiet")
run("convert", data("rmd17/rmd17_naphthalene_train_01.npz"), "--split", "11,0,0", "--part", "train",
    "-o", eth, "--quiet")
# float64 steps: the shards' graphs differ from the serial batch's, and the
# claim is equality to float64 rounding (float32 steps agree to ~1e-5 only)
args = ["train", "--mode", "plain", "--features", "16", "--blocks", "2", "--elements", "H,C",
        "--epochs", "2", "--seed", "3", "--dtype", "float64", "--quiet", benz, eth]
r1 = run(*args, "--batch", "8", "--metrics", P("s.jsonl"), "-o", P("serial.model"))
check(r1[0] == 0, "serial train: %s" % r1[2])
r2 = mpirun(MPI_BIN, *args, "--batch", "8", "--metrics", P("p.jsonl"), "-o", P("mpi.model"))
check(r2[0] == 0, "mpirun -n 2 mlshift-mpi train: %s" % r2[2][-2000:])
r3 = run(*args, "--batch", "4", "-o", P("other.model"))
if r1[0] == 0 and r2[0] == 0 and r3[0] == 0:
    a, b, c = (tensors(P(x)) for x in ("serial.model", "mpi.model", "other.model"))
    check(sorted(a) == sorted(b), "same tensors")
    worst = max(float(np.max(np.abs(a[k] - b[k]) / (1e-3 + np.abs(a[k])))) for k in a)
    check(worst < 1e-9, "2 ranks: weights equal the serial run's to rounding (worst %.3g)" % worst)
    print("2 ranks vs serial: worst relative weight difference %.3g" % worst)
    diff = max(float(np.max(np.abs(a[k] - c[k]))) for k in a)
    check(diff > 1e-6, "another batch size gives other weights (%.3g): the check can fail" % diff)
    js = lambda x: [json.loads(s) for s in open(P(x)) if s.strip()]
    s, p = js("s.jsonl"), js("p.jsonl")
    check(len(s) == len(p) and len(s) > 0, "one metrics line per step/epoch on rank 0 (%d, %d)"
          % (len(s), len(p)))
    ls = [x["loss"] for x in s if "loss" in x]
    lp = [x["loss"] for x in p if "loss" in x]
    close(lp, ls, 1e-12, 1e-9, "per-step losses of the 2 ranks = serial")
    out1, out2 = json.loads(r1[1].splitlines()[-1]), json.loads(r2[1].splitlines()[-1])
    check(out2["steps"] == out1["steps"] == 6, "steps: %r %r" % (out1["steps"], out2["steps"]))
    check(len(r2[1].strip().splitlines()) == 1, "one report (rank 0's): %r" % r2[1])
    check(not os.path.exists(P("mpi.model.rank1")), "no per-rank model file")

# --- ttt: one model per composition, groups over ranks
mixed = P("mixed.extxyz")
with open(mixed, "w") as fh:
    fh.write(open(benz).read())
    fh.write(open(eth).read())
targs = ["ttt", "--model", P("serial.model"), "--prior", "lj", "--steps", "3", "--batch", "4",
         "--lr", "1e-3", "--quiet", mixed]
t1 = run(*targs, "-o", P("ttt-serial"))
check(t1[0] == 0, "serial ttt: %s" % t1[2])
t2 = mpirun(MPI_BIN, *targs, "-o", P("ttt-mpi"))
check(t2[0] == 0, "mpirun -n 2 mlshift-mpi ttt: %s" % t2[2][-2000:])
if t1[0] == 0 and t2[0] == 0:
    names = sorted(os.listdir(P("ttt-serial")))
    models = [x for x in names if x.endswith(".model")]
    check(len(models) == 2, "two groups: %r" % names)
    check(sorted(x for x in os.listdir(P("ttt-mpi")) if x.endswith(".model")) == models,
          "the 2 ranks wrote both groups' models")
    for x in models:
        a, b = tensors(os.path.join(P("ttt-serial"), x)), tensors(os.path.join(P("ttt-mpi"), x))
        worst = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
        check(worst == 0, "%s: the rank that adapted it gives the serial weights (%.3g)" % (x, worst))
    g1 = json.loads(t1[1].splitlines()[-1])["ttt"]
    g2 = json.loads(t2[1].splitlines()[-1])["ttt"]
    check(sorted(g["group"] for g in g2) == sorted(g["group"] for g in g1) and len(g2) == 2,
          "one gathered report with every group: %r" % t2[1])
    for g in g2:
        h = [x for x in g1 if x["group"] == g["group"]][0]
        check(g["prior_loss"] == h["prior_loss"], "%s: same prior losses" % g["group"])

# --- label and diagnose: alternate frames over ranks, rank 0 writes
# 150 frames: 32 frames per rank per chunk (cli_mpi.h), so 2 ranks flush
# after frames 64 and 128 and end on a ragged chunk of 22
test = data("rmd17/rmd17_benzene_test_01.npz")
sub = ["--labels", "old", "--split", "150,0,0", "--part", "train", "--quiet"]
t150 = P("test150.extxyz")
run("convert", test, *sub, "-o", t150)


def same_bytes(a, b, what):
    ok = os.path.exists(a) and os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read()
    size = os.path.getsize(a) if os.path.exists(a) else -1
    check(ok, "%s: 2 ranks write the serial bytes (%d bytes)" % (what, size))
    return ok


def frames_of(path):
    return open(path).read().count("Properties=") if os.path.exists(path) else -1


# read whole (--split), LJ; streamed frame by frame, EMT
for name, prior, inp in (("lj", "lj", [test] + sub), ("emt", "emt", [t150, "--quiet"])):
    l1 = run("label", "--prior", prior, *inp, "-o", P("lab-%s-serial.extxyz" % name))
    check(l1[0] == 0, "serial label --prior %s: %s" % (prior, l1[2]))
    l2 = mpirun(MPI_BIN, "label", "--prior", prior, *inp, "-o", P("lab-%s-mpi.extxyz" % name))
    check(l2[0] == 0, "mpirun -n 2 mlshift-mpi label --prior %s: %s" % (prior, l2[2][-2000:]))
    if same_bytes(P("lab-%s-serial.extxyz" % name), P("lab-%s-mpi.extxyz" % name), "label " + name):
        print("label --prior %s: 2 ranks = serial, %d frames"
              % (prior, frames_of(P("lab-%s-mpi.extxyz" % name))))
    check(frames_of(P("lab-%s-mpi.extxyz" % name)) == 150, "label %s: 150 frames" % name)
    check(not [x for x in os.listdir(tmp) if "rank" in x or x.startswith(".")],
          "no per-rank or temporary file: %r" % os.listdir(tmp))
# the check can fail: another order of the same frames differs
lines = open(P("lab-lj-serial.extxyz")).read().splitlines(True)
first = int(lines[0])
swapped = lines[first + 2:2 * (first + 2)] + lines[:first + 2] + lines[2 * (first + 2):]
check("".join(swapped).encode() != open(P("lab-lj-mpi.extxyz"), "rb").read(),
      "frames 0 and 1 swapped differ from the 2 ranks' file: the comparison sees order")

# diagnose: statistics of 10 training frames; CSV, JSON, --neighbours,
# --prior, --errors (the LJ labels as predictions), the report
st = P("train.stats")
check(run("stats", benz, "-o", st, "--quiet")[0] == 0, "stats of the training frames")
dargs = ["diagnose", "--stats", st, t150, "--prior", "emt", "--neighbours", "0.01", "--train", benz,
         "--errors", P("lab-lj-serial.extxyz"), "--pred-key", "prior_forces", "--quiet"]
outs = lambda tag: ["--csv", P("d-%s.csv" % tag), "--json", P("d-%s.json" % tag),
                    "--errors-csv", P("d-%s-err.csv" % tag)]
d1 = run(*dargs, *outs("serial"))
check(d1[0] == 0, "serial diagnose: %s" % d1[2])
d2 = mpirun(MPI_BIN, *dargs, *outs("mpi"))
check(d2[0] == 0, "mpirun -n 2 mlshift-mpi diagnose: %s" % d2[2][-2000:])
for opt, ext in (("csv", ".csv"), ("json", ".json"), ("errors-csv", "-err.csv")):
    same_bytes(P("d-serial" + ext), P("d-mpi" + ext), "diagnose --" + opt)
check(d1[1] == d2[1] and "diagnosed 150 structures" in d2[1],
      "diagnose: one report, rank 0's, as the serial one: %r" % d2[1][:200])
if os.path.exists(P("d-mpi.json")):
    recs = json.load(open(P("d-mpi.json")))["per_structure"]
    check([r["index"] for r in recs] == list(range(150)), "JSON records in frame order")
    print("diagnose: 2 ranks = serial (CSV, JSON, binned errors, report), 150 structures")


# --- failures under 2 ranks: exit 2, one message, nothing written
def fails(tag, args, outputs, want):
    before = set(os.listdir(tmp))
    r = mpirun(MPI_BIN, *args)
    msgs = [x for x in r[2].splitlines() if x.startswith("mlshift: ")]
    check(r[0] != 0, "%s: exit status %d" % (tag, r[0]))
    check(len(msgs) == 1 and want in msgs[0], "%s: one message naming %r: %r" % (tag, want, msgs))
    check(not any(os.path.exists(o) for o in outputs), "%s: no output written" % tag)
    check(set(os.listdir(tmp)) == before, "%s: no file left behind: %r"
          % (tag, set(os.listdir(tmp)) - before))
    print("%s: exit %d, %s" % (tag, r[0], msgs[0] if msgs else "no message"))


lines = open(t150).read().splitlines(True)
nat = int(lines[0])
frames = [lines[k:k + nat + 2] for k in range(0, len(lines), nat + 2)]
bad = [list(f) for f in frames]
bad[101][2] = "S" + bad[101][2][1:]  # EMT has no S: rank 1's frame 101 fails
with open(P("bad-emt.extxyz"), "w") as fh:
    fh.write("".join(sum(bad, [])))
bad = [list(f) for f in frames]
bad[70][3] = "Xx" + bad[70][3][1:]  # an unknown element: every rank's reader fails
with open(P("bad-element.extxyz"), "w") as fh:
    fh.write("".join(sum(bad, [])))
fails("label, prior fails on rank 1's frame 101",
      ["label", "--prior", "emt", P("bad-emt.extxyz"), "-o", P("bad1.extxyz")],
      [P("bad1.extxyz")], "frame 101")
fails("label, unknown element read by every rank",
      ["label", "--prior", "lj", P("bad-element.extxyz"), "-o", P("bad2.extxyz")],
      [P("bad2.extxyz")], "unknown element 'Xx'")
fails("diagnose, prior fails on rank 1's frame 101",
      ["diagnose", "--stats", st, P("bad-emt.extxyz"), "--prior", "emt", "--csv", P("bad3.csv"),
       "--json", P("bad3.json")], [P("bad3.csv"), P("bad3.json")], "frame 101")
with open(P("short.extxyz"), "w") as fh:
    fh.write("".join(open(P("lab-lj-serial.extxyz")).read().splitlines(True)[:100 * (nat + 2)]))
fails("diagnose, rank 0 finds too few predictions after the stream",
      ["diagnose", "--stats", st, t150, "--errors", P("short.extxyz"), "--pred-key", "prior_forces",
       "--errors-csv", P("bad4-err.csv"), "--csv", P("bad4.csv")],
      [P("bad4-err.csv"), P("bad4.csv")], "100 frames but the test set has 150")

# --- jobs: independent shell commands over ranks (cli/jobs.c), a task farm
jd = P("jobs")
os.mkdir(jd)
J = lambda x: os.path.join(jd, x)


def jobs_file(name, lines):
    with open(J(name), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return J(name)


def run_jobs(*args, ranks=2, cwd=None):
    cmd = (MPIRUN[:-1] + [str(ranks), MPI_BIN] if ranks else [MLSHIFT]) + ["jobs"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or jd)
    return p.returncode, p.stdout, p.stderr


# 9 commands between a comment and blank lines; each appends its number to
# its own file (run exactly once: one line there) and prints it; 0.2 s each
# so that both ranks take some; the last runs plain mlshift, which refuses
# to run under mpirun unless the OMPI_/PMIX_ variables were removed
lines = ["# a comment", ""] + ["sleep 0.2; echo %d >> ran.$0.%d; echo out %d" % (k, k, k)
                               for k in range(8)]
lines += ["  ", "%s info --json %s | head -c 1; echo" % (MLSHIFT, benz)]
jf = jobs_file("nine.jobs", [x.replace("$0", "ser") for x in lines])
jm = jobs_file("nine-mpi.jobs", [x.replace("$0", "mpi") for x in lines])
s1 = run_jobs(jf, ranks=0)
s2 = run_jobs(jm)
s3 = run_jobs("-j", "3", jf, ranks=0)
check(s1[0] == 0 and s2[0] == 0 and s3[0] == 0,
      "jobs: serial, 2 ranks, -j 3 exit 0: %r" % ([s1[2][-500:], s2[2][-1000:], s3[2][-500:]],))
want = "".join("out %d\n" % k for k in range(8)) + "{\n"
check(s1[1] == want, "jobs serial: stdout in line order: %r" % s1[1])
check(s2[1] == s1[1], "jobs on 2 ranks: stdout equals the serial run's: %r" % s2[1])
check(s3[1] == s1[1], "jobs -j 3: stdout equals the serial run's: %r" % s3[1])
for k in range(8):
    got = open(J("ran.mpi.%d" % k)).read() if os.path.exists(J("ran.mpi.%d" % k)) else ""
    check(got == "%d\n" % k, "jobs on 2 ranks: line %d ran exactly once: %r" % (k + 3, got))
import re  # noqa: E402
took = {int(r) for r in re.findall(r"ended after [0-9.]+ s on rank (\d+)", s2[2])}
check(took == {0, 1}, "jobs on 2 ranks: both ranks ran lines: %r" % took)
check(len(re.findall(r"nine-mpi.jobs:(\d+) \(", s2[2])) == 9, "9 commands reported ended")
print("jobs: 9 commands on 2 ranks (ranks %s) = serial stdout, each run once" % sorted(took))

# a failing line: every other line still runs, the failure is named, exit 2
ff = jobs_file("fail.jobs", ["sleep 0.3; touch a.done", "sleep 0.1; exit 3",
                             "touch c.done", "touch d.done"])
for ranks in (0, 2):
    for x in ("a.done", "c.done", "d.done"):
        if os.path.exists(J(x)):
            os.remove(J(x))
    r = run_jobs("--quiet", ff, ranks=ranks)
    tag = "2 ranks" if ranks else "serial"
    msgs = [x for x in r[2].splitlines() if x.startswith("mlshift: ")]
    check(r[0] != 0, "jobs %s: a failed line gives a non-zero exit (%d)" % (tag, r[0]))
    check(any("fail.jobs:2 failed (exit status 3" in m and "exit 3" in m for m in msgs),
          "jobs %s: the message names line 2, its status and command: %r" % (tag, msgs))
    check(any("1 of 4 commands of" in m for m in msgs) and len(msgs) == 2,
          "jobs %s: one summary, no other message: %r" % (tag, msgs))
    check(all(os.path.exists(J(x)) for x in ("a.done", "c.done", "d.done")),
          "jobs %s: the other lines ran" % tag)
    print("jobs %s, a failing line: exit %d, %s" % (tag, r[0], msgs[0] if msgs else ""))

# bad inputs: one message (from rank 0 alone), non-zero exit
one = jobs_file("one.jobs", ["true"])
empty = jobs_file("empty.jobs", ["# nothing", "   "])
for args, want in ((["nosuch.jobs"], "nosuch.jobs: No such file"),
                   ([empty], "has no command"),
                   ([one], "1 command but 2 ranks were started"),
                   (["-j", "0", one], "from 1 to 256"),
                   ([], "no jobs file")):
    r = run_jobs(*args)
    msgs = [x for x in r[2].splitlines() if x.startswith("mlshift: ")]
    check(r[0] != 0 and len(msgs) == 1 and want in msgs[0],
          "jobs on 2 ranks %r: exit %d, one message naming %r: %r" % (args, r[0], want, msgs))
r = run_jobs(empty, ranks=0)
check(r[0] == 2 and "has no command" in r[2], "jobs serial, no command: exit 2: %r" % r[2])

# --- a bench stage over 2 ranks: Table 7's MD runs (bench/md17/table7) on
# two tiny untrained models (before, after), 2 seeds, 0.05 ps: the JSON of
# MPI=2 equals the serial one's
t7 = P("t7")
os.mkdir(t7)
for name, seed in (("before", "1"), ("after", "2")):
    run("model", "init", "--elements", "H,C", "--features", "8", "--blocks", "1", "--seed", seed,
        "-o", os.path.join(t7, name + ".model"))
run("stats", benz, "-o", os.path.join(t7, "train.stats"), "--quiet")
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
env = dict(os.environ, MLSHIFT_BIN=MLSHIFT, MLSHIFT_MPI_BIN=MPI_BIN, PYTHON=sys.executable,
           MLSHIFT_DATA=os.path.dirname(data("rmd17")), MPIRUN=" ".join(MPIRUN[:-2]),
           TIME="0.05", SEEDS="1 2", BEFORE=os.path.join(t7, "before.model"),
           AFTER_naphthalene=os.path.join(t7, "after.model"),
           AFTER_toluene=os.path.join(t7, "after.model"), STATS=os.path.join(t7, "train.stats"))
env.pop("MPI", None)
b1 = subprocess.run([os.path.join(root, "bench", "md17", "table7"), t7, os.path.join(t7, "serial")],
                    capture_output=True, text=True, env=dict(env, JOBS="1"))
b2 = subprocess.run([os.path.join(root, "bench", "md17", "table7"), t7, os.path.join(t7, "mpi")],
                    capture_output=True, text=True, env=dict(env, MPI="2"))
check(b1.returncode == 0, "table7 serial: %s" % b1.stderr[-1500:])
check(b2.returncode == 0, "table7 MPI=2: %s" % b2.stderr[-1500:])
tj = lambda x: os.path.join(t7, x, "table7.json")
if os.path.exists(tj("serial")) and os.path.exists(tj("mpi")):
    a, b = json.load(open(tj("serial"))), json.load(open(tj("mpi")))
    check(a == b, "table7: MPI=2 gives the serial JSON")
    runs = sorted((r["molecule"], r["model"], x["seed"]) for r in a["rows"] for x in r["runs"])
    check(len(runs) == 8 and len(set(runs)) == 8, "table7: 2 molecules x 2 models x 2 seeds: %r"
          % runs)
    hr = {(r["molecule"], r["model"]): r["hr_mae_mean"] for r in a["rows"]}
    check(hr[("toluene", "before")] != hr[("toluene", "after")],
          "table7: the two models' rows differ (%r): the comparison sees rows" % hr)
    ranks = {int(x) for x in re.findall(r"on rank (\d+)", b2.stderr)}
    check(ranks == {0, 1}, "table7 MPI=2: both ranks ran MD: %r" % ranks)
    print("table7 (8 MD runs): MPI=2 = serial JSON, runs on ranks %s" % sorted(ranks))

# --- plain mlshift under mpirun refuses
r = mpirun(MLSHIFT, "info", benz)
check(r[0] != 0 and "built without MPI" in r[2] and "mlshift-mpi" in r[2],
      "plain mlshift under mpirun -n 2 refuses: %r" % r[2][-500:])
done()
