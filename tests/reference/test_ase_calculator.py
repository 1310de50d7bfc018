# SPDX-License-Identifier: MIT
"""python/mlshift_ase.py, the ASE calculator over libmlshift.so (ctypes),
against the command line and against ASE itself:

  - energies and forces equal `mlshift predict` to 1e-12 for a model
    (main head, prior head, --radius, --refine-radius) and `mlshift label`
    for every prior (lj, emt, xtb:gfn2, sgdml:MODEL);
  - ASE's VelocityVerlet driving the calculator reproduces `mlshift md`
    positions to 1e-8 Å over 100 steps from the same start and velocities
    (a model, and EMT);
  - the stress of periodic cells (EMT, LJ, a model) equals ASE's numerical
    stress (finite differences of the energy under strain,
    Calculator.calculate_numerical_stress), and EMT's equals ASE's EMT;
  - training and TTT called from Python on ASE Atoms give the same model
    as `mlshift train` and `mlshift ttt` on the same frames (predictions
    to 1e-12).
Skipped in the sanitizer build: its library needs the sanitizer runtime
loaded first, which Python is not."""
import os
import sys
import tempfile
import warnings

from check import check, close, data, done, run, skip, MLSHIFT, ROOT

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: its library needs the sanitizer runtime "
         "loaded before Python")
os.environ["MLSHIFT_LIB"] = os.path.join(build, "libmlshift.so")
# OpenBLAS on one thread, as the mlshift command runs it (read when numpy
# loads OpenBLAS, below): sGDML's BLAS sums differ by 1e-9 with more threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

import mlshift_ase  # noqa: E402
from mlshift_ase import MLShift, Model  # noqa: E402

warnings.simplefilter("ignore")
tmp = tempfile.mkdtemp(prefix="mlshift-ase-")
rng = np.random.default_rng(11)
check(mlshift_ase.version() == "0.1.0", "library version %s" % mlshift_ase.version())


def path(name):
    return os.path.join(tmp, name)


# ---------------------------------------------- the ctypes mirrors = the C structs
# The binding mirrors public structs field by field; a field added to the
# header and not to the mirror shifts every later field (the call then reads
# garbage or crashes). The C compiler's sizes and offsets of the last field
# are the reference. Opaque types (mlshift_neighbours, mlshift_train_stats,
# every handle) are held as void pointers and read through accessors: they
# have no mirror, and the header must keep them incomplete.
import ctypes  # noqa: E402
import subprocess  # noqa: E402

mirrors = [("mlshift_error", mlshift_ase._Error), ("mlshift_frame", mlshift_ase._Frame),
           ("mlshift_model_hyper", mlshift_ase._Hyper), ("mlshift_model_info", mlshift_ase._Info),
           ("mlshift_optim_config", mlshift_ase._Optim), ("mlshift_loss_parts", mlshift_ase._Parts),
           ("mlshift_train_config", mlshift_ase._TrainConfig),
           ("mlshift_train_report", mlshift_ase._TrainReport),
           ("mlshift_ttt_config", mlshift_ase._TTTConfig),
           ("mlshift_ttt_report", mlshift_ase._TTTReport)]
src = path("sizes.c")
with open(src, "w") as fh:
    fh.write("#include <stddef.h>\n#include <stdio.h>\n#include \"mlshift.h\"\nint main(void)\n{\n")
    for cname, py in mirrors:
        last = py._fields_[-1][0]
        fh.write('    printf("%%zu %%zu\\n", sizeof(%s), offsetof(%s, %s));\n' % (cname, cname, last))
    fh.write("    return 0;\n}\n")
exe = path("sizes")
cc = subprocess.run(["cc", "-I", os.path.join(ROOT, "include"), "-o", exe, src],
                    capture_output=True, text=True)
check(cc.returncode == 0, "the size probe compiles: %s" % cc.stderr[-500:])
if cc.returncode == 0:
    got = subprocess.run([exe], capture_output=True, text=True).stdout.split("\n")
    for (cname, py), line in zip(mirrors, got):
        size, off = (int(x) for x in line.split())
        last = py._fields_[-1][0]
        check(ctypes.sizeof(py) == size and getattr(py, last).offset == off,
              "ctypes mirror of %s: size %d vs C %d, offset of %s %d vs C %d"
              % (cname, ctypes.sizeof(py), size, last, getattr(py, last).offset, off))
# every mirror in the binding is checked above
structs = sorted(k for k, v in vars(mlshift_ase).items()
                 if isinstance(v, type) and issubclass(v, ctypes.Structure))
unchecked = sorted(set(structs) - {py.__name__ for _, py in mirrors})
check(not unchecked, "ctypes mirrors without a size check: %s" % unchecked)
# the opaque types: sizeof does not compile against the public header
for opaque in ("mlshift_neighbours", "mlshift_train_stats"):
    src = path("opaque_%s.c" % opaque)
    with open(src, "w") as fh:
        fh.write("#include \"mlshift.h\"\nsize_t n = sizeof(%s);\n" % opaque)
    cc = subprocess.run(["cc", "-fsyntax-only", "-I", os.path.join(ROOT, "include"), src],
                        capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
    check(cc.returncode != 0 and "incomplete" in cc.stderr,
          "%s is opaque in mlshift.h (sizeof: %s)" % (opaque, cc.stderr.strip()[-200:]))



# ---------------------------------------------------------- model vs predict
model = path("m.model")
r = run("model", "init", "--arch", "painn", "--elements", "H,C,O", "--features", "8",
        "--blocks", "2", "--seed", "5", "-o", model)
check(r[0] == 0, "model init: %s" % r[2])
asp = path("asp.extxyz")
r = run("convert", data("rmd17/rmd17_aspirin_test_01.npz"), "--split", "3,0,0", "--part",
        "train", "-o", asp, "--quiet")
check(r[0] == 0, "convert: %s" % r[2])
stats = path("b.stats")
r = run("stats", data("rmd17/rmd17_benzene_train_01.npz"), "--split", "200,0,0", "--part",
        "train", "-o", stats, "--quiet")
check(r[0] == 0, "stats: %s" % r[2])
frames = read(asp, ":")
cases = [("main", ["--head", "main"], dict(head="main")),
         ("prior", ["--head", "prior"], dict(head="prior")),
         ("radius 4", ["--radius", "4"], dict(radius=4.0)),
         ("refine", ["--refine-radius", stats], dict(refine=stats))]
for name, args, kw in cases:
    out = path("pred.extxyz")
    r = run("predict", "--model", model, asp, "-o", out, "--quiet", *args)
    check(r[0] == 0, "predict %s: %s" % (name, r[2]))
    if r[0]:
        continue
    ref = read(out, ":")
    calc = MLShift(model=model, **kw)
    for k, (a, b) in enumerate(zip(frames, ref)):
        a = a.copy()
        a.calc = calc
        close(a.get_potential_energy(), b.info["pred_energy"], 1e-12, 0,
              "model %s frame %d energy" % (name, k))
        close(a.get_forces(), b.arrays["pred_forces"], 1e-12, 0,
              "model %s frame %d forces" % (name, k))
        if name == "refine":
            close(calc.last_radius, b.info["pred_radius"], 0, 0, "refined radius frame %d" % k)
        if name == "main":
            e_i = a.get_potential_energies()
            close(e_i.sum(), b.info["pred_energy"], 1e-10, 0, "per-atom energies sum")

# ---------------------------------------------------------- priors vs label
ico = Icosahedron("Cu", 2)
ico.rattle(0.05, seed=3)
ar = Icosahedron("Ar", 2, latticeconstant=5.26)
ar.rattle(0.05, seed=4)
write(path("cu.extxyz"), ico)
write(path("ar.extxyz"), ar)
geom = read(data("sgdml_models/geom_aspirin.xyz"))
mols = []
for k in range(2):
    g = geom.copy()
    g.rattle(0.02, seed=k)
    mols.append(g)
write(path("aspg.extxyz"), mols)
for spec, src in (("emt", "cu.extxyz"), ("lj", "ar.extxyz"), ("xtb:gfn2", "aspg.extxyz"),
                  ("sgdml:" + data("sgdml_models/sgdml_2018_aspirin.npz"), "aspg.extxyz")):
    out = path("lab.extxyz")
    r = run("label", "--prior", spec, path(src), "-o", out, "--quiet")
    check(r[0] == 0, "label %s: %s" % (spec, r[2]))
    if r[0]:
        continue
    calc = MLShift(prior=spec)
    name = spec.split(":")[0]
    for k, (a, b) in enumerate(zip(read(path(src), ":"), read(out, ":"))):
        a.calc = calc
        close(a.get_potential_energy(), b.info["prior_energy"], 1e-12, 0,
              "%s frame %d energy" % (name, k))
        close(a.get_forces(), b.arrays["prior_forces"], 1e-12, 0,
              "%s frame %d forces" % (name, k))


# ---------------------------------------------------------- VelocityVerlet vs md
def start_file(name, atoms, T):
    atoms = atoms.copy()
    MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
    Stationary(atoms)
    p = path(name + "_start.extxyz")
    write(p, atoms)
    return p


def compare_md(name, calc, cli, atoms, T=300, dt=0.5, steps=100, every=10):
    start = start_file(name, atoms, T)
    out = path(name + "_md.extxyz")
    r = run("md", *cli, start, "--integrator", "verlet", "--dt", dt, "--steps", steps,
            "--save-every", every, "-o", out, "--quiet")
    check(r[0] == 0, "%s: md: %s" % (name, r[2]))
    if r[0]:
        return
    got = read(out, ":")
    a = read(start)
    a.calc = calc
    dyn = VelocityVerlet(a, timestep=dt * units.fs)
    ref = [a.get_positions().copy()]
    for _ in range(steps // every):
        dyn.run(every)
        ref.append(a.get_positions().copy())
    check(len(got) == len(ref), "%s: %d frames, want %d" % (name, len(got), len(ref)))
    for k, (g, x) in enumerate(zip(got, ref)):
        close(g.get_positions(), x, 1e-8, 0, "%s step %d positions (Å)" % (name, k * every))
    moved = np.abs(ref[-1] - ref[0]).max()
    check(moved > 1e-3, "%s: the atoms moved (%.3g Å)" % (name, moved))


compare_md("model", MLShift(model=model), ["--model", model], frames[0])
compare_md("emt", MLShift(prior="emt"), ["--prior", "emt"], ico)

# ---------------------------------------------------------- stress vs strain
cu = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
cu.rattle(0.05, seed=7)
cu.set_cell(cu.cell + [[0, 0, 0], [0.2, 0, 0], [0, 0.1, 0]], scale_atoms=False)
arx = bulk("Ar", "fcc", a=5.26, cubic=True) * (2, 2, 2)
arx.rattle(0.05, seed=8)
cum = Model.create(["Cu"], features=8, rbf=6, blocks=2, cutoff=4.0, seed=2)
for name, atoms, calc in (("emt", cu, MLShift(prior="emt")), ("lj", arx, MLShift(prior="lj")),
                          ("model", cu, MLShift(model=cum))):
    a = atoms.copy()
    a.calc = calc
    s = a.get_stress()
    fd = calc.calculate_numerical_stress(a, d=1e-6)
    check(np.abs(s).max() > 1e-4, "%s: a nonzero stress (%.3g eV/Å³)" % (name, np.abs(s).max()))
    close(s, fd, 1e-8, 0, "%s periodic stress vs ASE's strain finite differences" % name)
a = cu.copy()
a.calc = EMT()
b = cu.copy()
b.calc = MLShift(prior="emt")
close(b.get_stress(), a.get_stress(), 1e-9, 1e-7, "EMT stress = ASE's EMT")
try:
    b = ico.copy()
    b.calc = MLShift(prior="emt")
    b.get_stress()
    check(False, "a molecule has no stress")
except Exception as exc:  # PropertyNotImplementedError
    check("stress" in str(exc) or "Property" in type(exc).__name__, "molecule stress refused")

# ---------------------------------------------------------- train and TTT vs the CLI
train_frames = []
for k in range(8):
    a = ico.copy()
    a.rattle(0.08, seed=100 + k)
    a.calc = EMT()
    a.get_forces()
    train_frames.append(a)
write(path("train.extxyz"), train_frames)
frames_back = read(path("train.extxyz"), ":")      # the same decimals the CLI reads
m0 = Model.create(["Cu"], features=8, rbf=6, blocks=2, cutoff=4.0, seed=3)
m0.save(path("m0.model"))
mp = Model(path("m0.model"))
rep = mp.train(frames_back, mode="plain", epochs=2, batch=4, ema_decay=0, plateau_patience=0)
check(rep["steps"] == 4 and rep["epochs"] == 2, "python train: 2 epochs of 2 steps: %r" % rep)
r = run("train", "--mode", "plain", "--init", path("m0.model"), "--epochs", 2, "--batch", 4,
        "--ema", 0, "--plateau-patience", 0, "-o", path("cli.model"), path("train.extxyz"),
        "--quiet")
check(r[0] == 0, "mlshift train: %s" % r[2])
test = read(path("cu.extxyz"))
if r[0] == 0:
    a, b = test.copy(), test.copy()
    a.calc = MLShift(model=mp)
    b.calc = MLShift(model=path("cli.model"))
    close(a.get_forces(), b.get_forces(), 1e-12, 0, "python train = mlshift train (forces)")
    close(a.get_potential_energy(), b.get_potential_energy(), 1e-12, 0,
          "python train = mlshift train (energy)")
    c = test.copy()
    c.calc = MLShift(model=path("m0.model"))
    check(np.abs(c.get_forces() - a.get_forces()).max() > 1e-6, "training changed the model")
mp.save(path("trained.model"))
rep = mp.ttt(frames_back, prior="emt", preset="md22", steps=6, batch=4, lr=1e-3)
check(rep["steps"] == 6, "python ttt: 6 steps: %r" % rep)
r = run("ttt", "--model", path("trained.model"), "--prior", "emt", "--preset", "md22",
        "--steps", 6, "--batch", 4, "--lr", "1e-3", "-o", path("ttt.model"),
        path("train.extxyz"), "--quiet")
check(r[0] == 0, "mlshift ttt: %s" % r[2])
if r[0] == 0:
    a, b = test.copy(), test.copy()
    a.calc = MLShift(model=mp)
    b.calc = MLShift(model=path("ttt.model"))
    close(a.get_forces(), b.get_forces(), 1e-12, 0, "python ttt = mlshift ttt (forces)")
info = Model(path("ttt.model")).info()
check(info["elements"] == [29] and info["features"] == 8 and info["blocks"] == 2 and
      info["cutoff"] == 4.0, "model info: %r" % {k: info[k] for k in ("elements", "features")})
check(info["record"] is not None and '"mode":"ttt"' in info["record"], "TTT record carried")
done()
