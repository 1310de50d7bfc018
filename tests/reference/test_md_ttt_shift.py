# SPDX-License-Identifier: MIT
"""md --ttt-on-shift: test-time training when the shift monitor flags a
sustained shift. A Cu13 cluster, training statistics from 20 rattled
EMT-labelled copies (ASE), a small random PaiNN whose force norms are far
from EMT's (every frame flagged on force norm: adaptation is forced) and
EMT as the TTT prior. Checks: the first adaptation happens on the K-th
flagged frame in a row, and the counts on stderr, in the frames
(adapted=T) and in the log agree; every adaptation lowers the prior loss
over its window; up to the adapted frame the trajectory equals the same
run without TTT bit for bit (the adapted frame holds the adapted model's
energy and forces), after it it differs; with K larger than the
run it never adapts and equals the plain run; --ttt-max caps the count;
the trajectory is valid extxyz (ASE reads every frame, all finite);
misuse exits 2 and writes nothing."""
import csv
import os
import re
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.singlepoint import SinglePointCalculator  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_tttshift_")
train = []
for k in range(20):
    a = Icosahedron("Cu", 2)
    a.rattle(0.05, seed=k)
    a.calc = EMT()
    e, f = a.get_potential_energy(), a.get_forces()
    a.calc = SinglePointCalculator(a, energy=e, forces=f)
    train.append(a)
tr = os.path.join(TMP, "train.extxyz")
write(tr, train)
start = os.path.join(TMP, "start.extxyz")
s = Icosahedron("Cu", 2)
s.rattle(0.05, seed=99)
write(start, s)
stats = os.path.join(TMP, "cu.stats")
model = os.path.join(TMP, "cu.model")
r = check.run("stats", tr, "--cutoff", "4", "-o", stats, "--quiet")
check.check(r[0] == 0, "stats: %s" % r[2])
r = check.run("model", "init", "--arch", "painn", "--elements", "Cu", "--features", "8",
              "--blocks", "2", "--cutoff", "4", "--seed", "1", "-o", model)
check.check(r[0] == 0, "model init: %s" % r[2])
base = ["md", "--model", model, start, "--monitor", stats, "--steps", "200", "--every", "10",
        "--dt", "1", "--temperature", "300", "--seed", "5"]


def run(name, *extra):
    out = os.path.join(TMP, name + ".extxyz")
    log = os.path.join(TMP, name + ".csv")
    r = check.run(*base, *extra, "-o", out, "--log", log)
    return r, out, log


rp, plain, _ = run("plain")
check.check(rp[0] == 0, "plain monitored run: %s" % rp[2])
r, out, log = run("ttt", "--ttt-on-shift", "--ttt-prior", "emt", "--ttt-sustain", "3")
check.check(r[0] == 0, "--ttt-on-shift: exit %d: %s" % (r[0], r[2]))
if r[0] == 0 and rp[0] == 0:
    frames = read(out, ":")
    P = read(plain, ":")
    check.check(len(frames) == 21 and all(np.isfinite(f.get_positions()).all() and
                                          np.isfinite(f.get_potential_energy()) for f in frames),
                "21 valid frames, all finite")
    flags = [bool(f.info.get("ood_force")) or bool(f.info.get("ood_connectivity")) for f in frames]
    adapted = [bool(f.info.get("adapted")) for f in frames]
    check.check(all(flags), "a random model is flagged on every frame (forced)")
    lines = re.findall(r"TTT on shift at ([0-9.e+-]+) ps .*prior loss ([0-9.e+-]+) -> ([0-9.e+-]+)", r[2])
    check.check(len(lines) == sum(adapted) >= 2,
                "adaptations: %d on stderr, %d frames adapted=T" % (len(lines), sum(adapted)))
    # with every frame flagged and K = 3: frames 2, 5, 8, ... adapt
    want = [i for i in range(21) if i % 3 == 2]
    check.check([i for i, a in enumerate(adapted) if a] == want,
                "adapted frames %r, want %r" % ([i for i, a in enumerate(adapted) if a], want))
    check.check(all(float(b) > float(c) for _, b, c in lines),
                "each adaptation lowers the prior loss: %r" % lines)
    m = re.search(r"adapted (\d+) times? \(first at ([0-9.e+-]+) ps", r[2])
    check.check(m is not None and int(m.group(1)) == len(lines) and
                abs(float(m.group(2)) - 0.02) < 1e-12, "summary: %s" % (m and m.group(0)))
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    check.check(len(rows) == 21 and [int(x["adapted"]) for x in rows] == [int(a) for a in adapted],
                "the log's adapted column agrees")
    first = want[0]
    same = all(np.array_equal(frames[i].get_positions(), P[i].get_positions())
               for i in range(first + 1))
    check.check(same and all(frames[i].get_potential_energy() == P[i].get_potential_energy()
                             for i in range(first)),
                "up to the first adaptation: identical to the plain run")
    # the adapted frame carries the adapted model's energy and forces
    check.check(frames[first].get_potential_energy() != P[first].get_potential_energy(),
                "the adapted frame holds the adapted model's energy")
    check.check(not np.array_equal(frames[first].get_forces(), P[first].get_forces()) and
                not np.array_equal(frames[first + 1].get_positions(), P[first + 1].get_positions()),
                "after it: the adapted model's forces drive the run")
r, out, _ = run("never", "--ttt-on-shift", "--ttt-prior", "emt", "--ttt-sustain", "1000")
check.check(r[0] == 0 and "never adapted" in r[2] and
            all(np.array_equal(a.get_positions(), b.get_positions())
                for a, b in zip(read(out, ":"), read(plain, ":"))),
            "sustain > frames: never adapts, the plain trajectory (%s)" % r[2].strip()[-80:])
r, out, _ = run("cap", "--ttt-on-shift", "--ttt-prior", "emt", "--ttt-sustain", "2",
                "--ttt-max", "2")
check.check(r[0] == 0 and sum(bool(f.info.get("adapted")) for f in read(out, ":")) == 2,
            "--ttt-max 2 caps the adaptations: %s" % r[2].strip()[-120:])

bad = [
    (["--model", model, start, "--ttt-on-shift", "--ttt-prior", "emt"], "no --monitor"),
    (["--model", model, start, "--monitor", stats, "--ttt-on-shift"], "no --ttt-prior"),
    (["--prior", "emt", start, "--monitor", stats, "--ttt-on-shift", "--ttt-prior", "emt"],
     "a prior calculator"),
    (["--model", model, start, "--monitor", stats, "--ttt-on-shift", "--ttt-prior", "nosuch"],
     "unknown --ttt-prior"),
    (["--model", model, start, "--monitor", stats, "--ttt-prior", "emt"],
     "--ttt-prior without --ttt-on-shift"),
    (["--model", model, start, "--monitor", stats, "--ttt-on-shift", "--ttt-prior", "emt",
      "--ttt-sustain", "0"], "sustain 0"),
    (["--model", model, start, "--monitor", stats, "--ttt-on-shift", "--ttt-prior", "emt",
      "--ttt-lr", "-1"], "negative lr"),
]
for args, what in bad:
    o = os.path.join(TMP, "bad.extxyz")
    r = check.run("md", *args, "--steps", "10", "-o", o)
    check.check(r[0] == 2 and r[2].startswith("mlshift: ") and not os.path.exists(o),
                "%s: exit %d, %r" % (what, r[0], r[2].strip()))
check.done()
