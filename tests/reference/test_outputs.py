# SPDX-License-Identifier: MIT
"""Outputs never destroy anything, and wrong input is never answered
silently (issue 12, sections 3 and 4), through the mlshift command:
- a FIFO, /dev/null and a symbolic link stay what they are when written to;
- an output that is one of the inputs (any spelling, a hard link) is
  refused before anything is written, for every command that writes;
- SIGINT/TERM/HUP/QUIT/PIPE while writing leave no OUT.tmp.<pid>;
- a command with several outputs writes all or none;
- a replaced file keeps its permissions; no extxyz under a .npz name;
- wrong answers: the frame count of a mismatched --errors file, errors that
  name file and frame in the file, values accepted without a word."""
import glob
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

from check import MLSHIFT, check, data, done, run

tmp = tempfile.mkdtemp(prefix="mlshift-outputs-")
P = lambda *x: os.path.join(tmp, *x)


def leftovers(folder=tmp):
    return sorted(glob.glob(os.path.join(folder, "**", "*.tmp.*"), recursive=True))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# Small inputs: 30 toluene frames with energies and forces; statistics.
xyz = P("t.extxyz")
r = run("convert", data("rmd17/rmd17_toluene_test_01.npz"), "--labels", "old", "--split",
        "30,0,0", "--part", "train", "-o", xyz, "--quiet")
check(r[0] == 0, "convert setup: %s" % r[2])
st = P("t.stats")
r = run("stats", xyz, "-o", st, "--quiet")
check(r[0] == 0, "stats setup: %s" % r[2])
model = P("m.model")
r = run("model", "init", "--elements", "C,H", "--features", "8", "--rbf", "6", "--blocks",
        "2", "-o", model)
check(r[0] == 0, "model init setup: %s" % r[2])
if not (os.path.exists(xyz) and os.path.exists(st) and os.path.exists(model)):
    done()
ref = read(xyz)

# ---- §3.1 special files are written through, links followed
# /dev/null: written into, still the character device afterwards.
r = run("convert", xyz, "-o", "/dev/null", "--quiet")
s = os.stat("/dev/null")
check(r[0] == 0 and stat.S_ISCHR(s.st_mode) and os.major(s.st_rdev) == 1 and
      os.minor(s.st_rdev) == 3, "-o /dev/null: exit %d, still a char device 1,3" % r[0])
check(not glob.glob("/dev/null.tmp.*"), "no /dev/null.tmp.* left")

# A FIFO with a reader: the reader gets the file, the FIFO stays a FIFO.
fifo = P("fifo.extxyz")
os.mkfifo(fifo)
got = {}


def reader():
    with open(fifo, "rb") as f:
        got["data"] = f.read()


th = threading.Thread(target=reader)
th.start()
r = run("convert", xyz, "-o", fifo, "--quiet")
th.join(30)
check(r[0] == 0 and stat.S_ISFIFO(os.lstat(fifo).st_mode), "FIFO output stays a FIFO: %s" % r[2])
check(got.get("data") == ref, "the FIFO's reader received the whole file")

# A symbolic link into another folder: the link stays, the target changes.
os.mkdir(P("other"))
target = P("other", "target.extxyz")
with open(target, "w") as f:
    f.write("old\n")
link = P("link.extxyz")
os.symlink(os.path.join("other", "target.extxyz"), link)
r = run("convert", xyz, "-o", link, "--quiet")
check(r[0] == 0 and os.path.islink(link) and read(target) == ref,
      "symlink output: still a link, the target holds the output: %s" % r[2])
# A dangling link: its target is created.
dang = P("dangling.extxyz")
os.symlink(os.path.join("other", "new.extxyz"), dang)
r = run("convert", xyz, "-o", dang, "--quiet")
check(r[0] == 0 and os.path.islink(dang) and read(P("other", "new.extxyz")) == ref,
      "dangling symlink output creates its target")
check(not leftovers(), "no temporaries left: %s" % leftovers())

# ---- §3.2 an output that is an input is refused, the input untouched
hard = P("hard.extxyz")
os.link(xyz, hard)
split_in = P("s.train.extxyz")  # what `convert --split … -o s.extxyz` writes first
shutil.copy(xyz, split_in)
for args, victim in [
        (("convert", xyz, "-o", xyz), xyz),
        (("convert", xyz, "-o", os.path.join(tmp, ".", "t.extxyz")), xyz),
        (("convert", hard, "-o", xyz), xyz),
        (("convert", split_in, "--split", "3,3,rest", "-o", P("s.extxyz")), split_in),
        (("stats", xyz, "-o", xyz), xyz),
        (("label", "--prior", "lj", xyz, "-o", xyz), xyz),
        (("predict", "--model", model, xyz, "-o", model), model),
        (("predict", "--model", model, xyz, "-o", xyz), xyz),
        (("diagnose", "--stats", st, xyz, "--csv", st), st),
        (("diagnose", "--stats", st, xyz, "--json", xyz), xyz),
        (("diagnose", "--stats", st, xyz, "--errors", xyz, "--pred-key", "forces",
          "--errors-csv", xyz), xyz),
        (("refine-radius", "--stats", st, xyz, "--csv", st), st),
        (("sgdml", "train", xyz, "--samples", "5", "-o", xyz), xyz),
        (("train", "--mode", "plain", "--epochs", "1", "--features", "8", "--blocks", "2",
          "--quiet", "-o", xyz, xyz), xyz),
        (("train", "--mode", "finetune", "--init", model, "--epochs", "1", "--quiet",
          "-o", model, xyz), model)]:
    before = read(victim)
    r = run(*args)
    check(r[0] == 2 and "input" in r[2] and read(victim) == before,
          "%s: output = input refused (exit %d: %s)" % (" ".join(args[:2]), r[0], r[2].strip()))
# train: MODEL.ckpt and MODEL.prior-cache are outputs too.
ck = P("c.ckpt")
shutil.copy(xyz, ck)
before = read(ck)
r = run("train", "--mode", "plain", "--epochs", "1", "--quiet", "--format", "extxyz",
        "-o", P("c"), ck)
check(r[0] == 2 and read(ck) == before, "train: MODEL.ckpt = an input refused: %s" % r[2])
check(not leftovers(), "no temporaries left: %s" % leftovers())

# ---- §3.3 signals while writing leave no temporary
# diagnose writes --csv (held back, complete) and then opens --json, a FIFO
# nobody reads: it blocks there with the CSV's temporary on disk.
sig_fifo = P("sig.json")
os.mkfifo(sig_fifo)
SIGS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE)


def no_core():
    # no core file; and the default action for the signals under test: a run
    # started from nohup or as a background job of a non-interactive shell
    # inherits SIGHUP/SIGINT/SIGQUIT ignored, and mlshift rightly keeps an
    # ignored signal ignored
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for s in SIGS:
        signal.signal(s, signal.SIG_DFL)



for sig in SIGS:
    csv = P("sig.csv")
    p = subprocess.Popen([MLSHIFT, "diagnose", "--stats", st, xyz, "--csv", csv,
                          "--json", sig_fifo], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, preexec_fn=no_core)
    t0 = time.time()
    while not glob.glob(csv + ".tmp.*") and p.poll() is None and time.time() - t0 < 30:
        time.sleep(0.01)
    had = bool(glob.glob(csv + ".tmp.*"))
    p.send_signal(sig)
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    check(had and rc == -sig and not glob.glob(csv + ".tmp.*") and not os.path.exists(csv),
          "%s while writing: temporary seen %s, exit %d, left %s"
          % (sig.name, had, rc, glob.glob(csv + "*")))

# ---- §3.4 several outputs: all or none
old = b"old csv\n"
for args, first in [
        # --json cannot be created: --csv not written either (checked first)
        (("diagnose", "--stats", st, xyz, "--csv", P("d.csv"), "--json",
          "/nonexistent/d.json"), P("d.csv")),
        # --plot fails after --errors-csv was written: held back, discarded
        (("diagnose", "--stats", st, xyz, "--errors", xyz, "--pred-key", "forces",
          "--errors-csv", P("e.csv"), "--plot", P("e.gif")), P("e.csv")),
        # refine-radius: the table, then a plot that cannot be written
        (("refine-radius", "--stats", st, xyz, "--radii", "4,5", "--csv", P("r.csv"),
          "--plot-degrees", P("r.gif")), P("r.csv"))]:
    with open(first, "wb") as f:
        f.write(old)
    r = run(*args)
    check(r[0] == 2 and read(first) == old,
          "%s: a failing later output leaves the earlier one untouched: %s"
          % (args[0], r[2].strip()))
# convert --split with the val part on a full disk (/dev/full): the train
# part is not written either.
os.symlink("/dev/full", P("full.val.extxyz"))
r = run("convert", xyz, "--split", "10,10,rest", "-o", P("full.extxyz"), "--quiet")
check(r[0] == 2 and not os.path.exists(P("full.train.extxyz")) and
      not os.path.exists(P("full.test.extxyz")),
      "convert --split, one part fails: none written (%s)" % r[2].strip())
check(not leftovers(), "no temporaries left: %s" % leftovers())

# ---- §3.5 the permissions of a replaced file are kept
for mode in (0o600, 0o640):
    out = P("perm%o.extxyz" % mode)
    with open(out, "w") as f:
        f.write("x\n")
    os.chmod(out, mode)
    r = run("convert", xyz, "-o", out, "--quiet")
    check(r[0] == 0 and stat.S_IMODE(os.stat(out).st_mode) == mode and read(out) == ref,
          "a %o file stays %o: got %o" % (mode, mode, stat.S_IMODE(os.stat(out).st_mode)))

# ---- §3.6 no extxyz under a name mlshift would read as something else
for name in ("out.npz", "out.h5", "out.hdf5"):
    r = run("convert", xyz, "-o", P(name))
    check(r[0] == 2 and not os.path.exists(P(name)) and "extxyz" in r[2],
          "convert -o %s refused: %s" % (name, r[2].strip()))

# ---- §4 wrong or silent answers
# A mismatched --errors file: its true frame count, not a freed value.
part = P("p10.extxyz")
run("convert", xyz, "--split", "10,0,0", "--part", "train", "-o", part, "--quiet")
msgs = set()
for _ in range(2):
    r = run("diagnose", "--stats", st, xyz, "--errors", part, "--pred-key", "forces",
            "--errors-csv", P("mm.csv"))
    msgs.add(r[2])
    check(r[0] == 2 and "10 frames but the test set has 30" in r[2],
          "--errors count mismatch message: %s" % r[2].strip())
check(len(msgs) == 1, "the message is the same every run: %r" % msgs)

# Coincident atoms: every prior refuses, naming the atoms, with file and
# frame in the file; under --split the file's index, not the split's.
good = "2\nenergy=1.0\nC 0 0 0\nC 1.5 0 0\n"
bad = "3\nenergy=1.0\nC 0 0 0\nC 1.2 0 0\nC 1.2 0 0\n"
co = P("co.extxyz")
with open(co, "w") as f:
    f.write(good + good + bad)
for prior in ("lj", "emt"):
    r = run("label", "--prior", prior, co, "-o", P("co_l.extxyz"))
    check(r[0] == 2 and "atoms 1 and 2 coincide" in r[2] and "co.extxyz: frame 2" in r[2],
          "label --prior %s on coincident atoms: %s" % (prior, r[2].strip()))
named = []
for part_ in ("train", "test"):
    r = run("label", "--prior", "lj", co, "--split", "1,0,rest", "--seed", "1", "--part",
            part_, "-o", P("co_s.extxyz"), "--quiet")
    if r[0] != 0:
        named.append(r[2])
check(len(named) == 1 and "co.extxyz: frame 2" in named[0],
      "under --split the error names the file's frame 2: %s" % named)
co2 = P("co2.extxyz")
with open(co2, "w") as f:
    f.write(good + bad)
r = run("label", "--prior", "lj", co, co2, "-o", P("co_l.extxyz"))
check(r[0] == 2 and "co.extxyz: frame 2" in r[2], "first file's frame named: %s" % r[2])
r = run("label", "--prior", "lj", xyz, co2, "-o", P("co_l.extxyz"))
check(r[0] == 2 and "co2.extxyz: frame 1" in r[2],
      "second file's own frame index: %s" % r[2].strip())

# Accepted without a word before: each an error, exit 2, saying what.
empty = P("z.extxyz")
with open(empty, "w") as f:
    f.write(good + "0\nenergy=1.0\n")
for args, word in [
        (("convert", xyz, "--split", "0,0,0", "-o", P("s.extxyz")), "0"),
        (("sgdml", "train", xyz, "--samples", "5", "--lambda", "-1", "-o", P("s.npz")),
         "--lambda"),
        (("convert", xyz, "--dedup", "no_such_key", "-o", P("s.extxyz")), "no_such_key"),
        (("convert", xyz, "--labels", "old", "-o", P("s.extxyz")), "--labels old"),
        (("predict", "--model", model, empty, "-o", P("s.extxyz")), "no atoms"),
        (("refine-radius", "--stats", st, xyz, "--radii", "3:9:1000000"), "10000")]:
    r = run(*args)
    check(r[0] == 2 and word in r[2] and not os.path.exists(P("s.extxyz")),
          "%s: exit %d, says %r: %s" % (" ".join(args[:4]), r[0], word, r[2].strip()))
check("frame 1" in run("predict", "--model", model, empty, "-o", P("s.extxyz"))[2],
      "predict names the empty frame")

# Statistics files: what is wrong, and where.
text = open(st).read()
j = json.loads(text)
j["force_norm"]["std"] = -0.25
negstd = json.dumps(j, indent=1)
j = json.loads(text)
j["cutoff"] = -5
negcut = json.dumps(j, indent=1)
dup = text.replace('"cutoff":', '"cutoff": 4.0, "cutoff":', 1)
for name, body, word in [("negstd", negstd, "force_norm.std is -0.25"),
                         ("dup", dup, 'key "cutoff" appears twice'),
                         ("negcut", negcut, "must be positive")]:
    bad_st = P(name + ".stats")
    with open(bad_st, "w") as f:
        f.write(body)
    r = run("diagnose", "--stats", bad_st, xyz)
    check(r[0] == 2 and word in r[2] and bad_st in r[2],
          "stats file %s refused saying %r: %s" % (name, word, r[2].strip()))

# "read error" says why; control bytes from a file are escaped.
os.mkdir(P("dir.extxyz"))
r = run("info", P("dir.extxyz"))
check(r[0] == 2 and "Is a directory" in r[2], "read error with its reason: %s" % r[2].strip())
esc = P("esc.extxyz")
with open(esc, "wb") as f:
    f.write(b"1\nenergy=1\nC\x1b[31mX 0 0 0\n")
r = run("info", esc)
check(r[0] == 2 and "\x1b" not in r[2] and "\\x1b" in r[2],
      "control bytes escaped in messages: %r" % r[2])

check(not leftovers(), "no temporaries left anywhere: %s" % leftovers())
shutil.rmtree(tmp, ignore_errors=True)
done()
