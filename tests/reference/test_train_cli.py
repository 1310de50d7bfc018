# SPDX-License-Identifier: MIT
"""mlshift train / ttt / evaluate from the command line:
- a run killed with SIGKILL mid-training and resumed from MODEL.ckpt writes
  a model byte-identical to an uninterrupted run;
- prior labels computed with --prior are cached and reused;
- pretrain -> finetune -> ttt -> evaluate end to end: TTT lowers the prior
  loss, the adapted model reads back, evaluate's force MAE equals numpy's
  over predict's forces;
- bad values name the option (or the config file line), exit 2, and write
  nothing."""
import json
import os
import signal
import subprocess
import tempfile
import time
import warnings

import numpy as np
from ase.io import read as ase_read

from check import MLSHIFT, check, close, data, done, run

warnings.simplefilter("ignore")
tmp = tempfile.mkdtemp(prefix="mlshift-train-")
P = lambda x: os.path.join(tmp, x)

lab = P("lab.extxyz")
r = run("label", "--prior", "lj", data("rmd17/rmd17_benzene_test_01.npz"), "--labels", "old",
        "--split", "48,0,0", "--part", "train", "-o", lab, "--quiet")
check(r[0] == 0, "label: %s" % r[2])
tiny = ["--features", "8", "--blocks", "3", "--rbf", "6", "--batch", "4", "--seed", "3",
        "--quiet"]

# --- uninterrupted vs killed and resumed
a = P("a.model")
r = run("train", "--mode", "pretrain", *tiny, "--epochs", "6", "-o", a, lab)
check(r[0] == 0, "pretrain: %s" % r[2])
summary = json.loads(r[1].strip().splitlines()[-1]) if r[0] == 0 else {}
check(summary.get("steps") == 72 and summary.get("epochs") == 6,
      "pretrain summary: %r" % summary)

b = P("b.model")
killed = False
for attempt in range(3):
    for f in (b, b + ".ckpt"):
        if os.path.exists(f):
            os.remove(f)
    p = subprocess.Popen([MLSHIFT, "train", "--mode", "pretrain", *tiny, "--epochs", "6",
                          "--checkpoint-every", "1", "-o", b, lab],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not os.path.exists(b + ".ckpt") and p.poll() is None and time.time() - t0 < 60:
        time.sleep(0.001)
    time.sleep(0.05)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        killed = not os.path.exists(b)
        if killed:
            break
    else:
        p.wait()
check(killed, "the run was killed before it finished")
r = run("train", "--mode", "pretrain", *tiny, "--epochs", "6", "--checkpoint-every", "1",
        "--resume", b + ".ckpt", "-o", b, lab)
check(r[0] == 0, "resume: %s" % r[2])
check(os.path.exists(b) and open(a, "rb").read() == open(b, "rb").read(),
      "killed with SIGKILL and resumed: the model is byte-identical to an uninterrupted run")

# --- prior labels computed and cached
c = P("c.model")
r1 = run("train", "--mode", "pretrain", *tiny[:-1], "--epochs", "1", "--prior", "lj",
         "--labels", "old", "-o", c, data("rmd17/rmd17_benzene_test_01.npz"), "--split",
         "12,0,0", "--part", "train")
check(r1[0] == 0 and os.path.exists(c + ".prior-cache"), "--prior lj: %s" % r1[2])
r2 = run("train", "--mode", "pretrain", *tiny[:-1], "--epochs", "1", "--prior", "lj",
         "--labels", "old", "-o", P("c2.model"), data("rmd17/rmd17_benzene_test_01.npz"),
         "--split", "12,0,0", "--part", "train")
check(r2[0] == 0 and "reused" not in r2[2], "another output: its own cache")
r3 = run("train", "--mode", "pretrain", *tiny[:-1], "--epochs", "1", "--prior", "lj",
         "--labels", "old", "-o", c, data("rmd17/rmd17_benzene_test_01.npz"), "--split",
         "12,0,0", "--part", "train")
check(r3[0] == 0 and "reused" in r3[2], "the second run reuses the cached prior labels: %s" % r3[2])

# --- finetune, ttt, evaluate
ft = P("ft.model")
r = run("train", "--mode", "finetune", "--init", a, *tiny, "--epochs", "3", "-o", ft, lab)
check(r[0] == 0, "finetune: %s" % r[2])
test = P("test.extxyz")
run("label", "--prior", "lj", data("rmd17/rmd17_benzene_test_02.npz"), "--labels", "old",
    "--split", "16,0,0", "--part", "train", "-o", test, "--quiet")
adapted = P("adapted.model")
log = P("ttt.csv")
svg = P("ttt.svg")
r = run("ttt", "--model", ft, "--steps", "12", "--batch", "4", "--lr", "1e-3", "--log", log,
        "--eval-every", "4", "--plot", svg, "-o", adapted, test, "--quiet")
check(os.path.exists(svg) and "<svg" in open(svg).read() and "force MAE" in open(svg).read(),
      "--plot writes the Fig. 9b chart")
check(r[0] == 0, "ttt: %s" % r[2])
if r[0] == 0:
    g = json.loads(r[1].strip().splitlines()[-1])["ttt"][0]
    check(g["group"] == "C6H6" and g["steps"] == 12, "ttt report: %r" % g)
    check(g["prior_loss"][1] < g["prior_loss"][0], "TTT lowers the prior loss: %r" % g["prior_loss"])
    check("main_force_mae_meV" in g, "labelled test frames: main MAE before and after")
    rows = open(log).read().splitlines()
    check(len(rows) == 13 and rows[4].count(",") == 7 and rows[4].split(",")[6] != "",
          "the TTT log: a row per step, main MAE every 4 steps")
pred = P("pred.extxyz")
run("predict", "--model", adapted, test, "-o", pred, "--quiet")
r = run("evaluate", "--model", adapted, test)
check(r[0] == 0, "evaluate: %s" % r[2])
if r[0] == 0 and os.path.exists(pred):
    ev = json.loads(r[1].strip())
    fr = ase_read(pred, ":")
    d = np.concatenate([f.arrays["pred_forces"] - f.get_forces() for f in fr])
    close(ev["force_mae_meV"], 1e3 * np.abs(d).mean(), 1e-4, 1e-9,
          "evaluate's force MAE equals numpy's over predict's forces")
    check(ev["frames"] == 16, "evaluate: 16 frames")

# --- several groups: a folder of models named after sanitised group values
from ase.io import write as ase_write
frs = ase_read(test, ":8")
for i, f in enumerate(frs):
    f.info["mol"] = "a/b" if i < 4 else "../x"
grouped = P("grouped.extxyz")
ase_write(grouped, frs, format="extxyz")
outdir = P("groups")
r = run("ttt", "--model", ft, "--steps", "2", "--batch", "4", "--group-key", "mol", "-o", outdir,
        grouped, "--quiet")
check(r[0] == 0 and sorted(os.listdir(outdir)) ==
      ["_._x.model", "a_b.model"],
      "--group-key: one model per group, names made safe: %s %r" % (r[2], os.listdir(outdir)
                                                                    if os.path.isdir(outdir)
                                                                    else None))
check(not os.path.exists(P("x.model")), "a group value cannot write outside the folder")

# --- few-shot fine-tuning of a fine-tuned model keeps its main head (Fig. 14)
ft2, ft3 = P("ft2.model"), P("ft3.model")
r2 = run("train", "--mode", "finetune", "--init", ft, *tiny, "--epochs", "1", "--lr", "1e-12",
         "--ema", "0", "-o", ft2, lab)
r3 = run("train", "--mode", "finetune", "--init", ft, *tiny, "--epochs", "1", "--lr", "1e-12",
         "--ema", "0", "--copy-prior-head", "1", "-o", ft3, lab)
check(r2[0] == 0 and r3[0] == 0, "finetune of a fine-tuned model: %s %s" % (r2[2], r3[2]))
e1, e2, e3 = (run("evaluate", "--model", x, lab) for x in (ft, ft2, ft3))
if e1[0] == 0 and e2[0] == 0 and e3[0] == 0:
    m1, m2, m3 = (json.loads(e[1])["force_mae_meV"] for e in (e1, e2, e3))
    close(m2, m1, 1e-3, 1e-6, "the fine-tuned main head is kept (not replaced by the prior head)")
    check(abs(m3 - m1) > 1e-2, "--copy-prior-head 1 replaces it (%g vs %g)" % (m3, m1))
rec = open(adapted, "rb").read()
check(b'"mode":"ttt"' in rec and b'"mode":"finetune"' in rec,
      "the adapted model's record holds TTT and the model it came from")
check(rec.count(b'"dtype":"float32"') >= 2,
      "the records name the steps' arithmetic (float32 by default)")
r = run("ttt", "--model", ft, "--steps", "2", "--dtype", "double", "-o", P("z.model"), test)
check(r[0] == 2 and "--dtype" in r[2] and not os.path.exists(P("z.model")),
      "ttt --dtype double: %r" % r[2])

# --- bad input: exit 2, the option named, nothing written
bad = P("bad.model")
for args, what in [(["--lr", "-1"], "--lr"), (["--epochs", "0"], "--epochs"),
                   (["--optimizer", "lbfgs"], "lbfgs"), (["--mode", "pre"], "--mode"),
                   (["--batch", "2.5"], "--batch"), (["--dtype", "float16"], "--dtype"),
                   (["--threads", "0"], "--threads"), (["--readout", "all"], "--readout")]:
    argv = ["--mode", "pretrain", *tiny, "-o", bad, lab]
    if args[0] == "--mode":
        argv = argv[2:]
    r = run("train", *argv, *args)
    check(r[0] == 2 and what in r[2] and not os.path.exists(bad),
          "train %s: exit %d, %r" % (" ".join(args), r[0], r[2]))
cfg = P("bad.cfg")
open(cfg, "w").write("epochs = 2\n# a comment\nlearning_rate = 1e-3\n")
r = run("train", "--mode", "pretrain", "--config", cfg, *tiny, "-o", bad, lab)
check(r[0] == 2 and "line 3" in r[2] and "learning_rate" in r[2] and not os.path.exists(bad),
      "a config file with an unknown key: %r" % r[2])
open(cfg, "w").write("epochs = 1\nfeatures = 8\n")
r = run("train", "--mode", "pretrain", "--config", cfg, "--blocks", "3", "--batch", "8",
        "--quiet", "-o", bad, lab)
check(r[0] == 0 and json.loads(r[1].strip().splitlines()[-1])["steps"] == 6,
      "a config file's keys apply: %r" % r[2])
r = run("train", "--mode", "finetune", *tiny, "-o", P("x.model"), lab)
check(r[0] == 2 and "--init" in r[2], "finetune without --init: %r" % r[2])
# --ttt-blocks: the TTT subset chosen at test time (k = 2 here: 0..2)
r = run("ttt", "--model", ft, "--steps", "2", "--batch", "4", "--ttt-blocks", "2", "--quiet",
        "-o", P("t2.model"), test)
info = run("model", "info", P("t2.model"))
check(r[0] == 0 and "TTT subset = embedding + blocks 0..1" in info[1],
      "ttt --ttt-blocks 2: the adapted model's TTT subset is blocks 0..1: %r" % (r[2] + info[1]))
r = run("ttt", "--model", ft, "--steps", "2", "--ttt-blocks", "3", "-o", P("t3.model"), test)
check(r[0] == 2 and "--ttt-blocks" in r[2] and "0..2" in r[2] and not os.path.exists(P("t3.model")),
      "ttt --ttt-blocks 3 with 2 representation blocks: %r" % r[2])
r = run("ttt", "--model", ft, "--preset", "md99", "-o", P("y.model"), test)
check(r[0] == 2 and "md99" in r[2] and not os.path.exists(P("y.model")), "bad preset: %r" % r[2])
done()
