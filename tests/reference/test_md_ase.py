# SPDX-License-Identifier: MIT
"""mlshift md against ASE 3.22 as the independent reference.

Velocity Verlet: a rattled Cu13 icosahedron with EMT and an Ar13
icosahedron with Lennard-Jones (the "lj" prior = ASE's LennardJones with
the UFF sigma/epsilon, smooth cutoff), both starting from the same
positions and momenta (an extxyz START that ASE wrote, read back by ASE so
both sides see the same decimals), 100 steps: every saved frame's
positions to 1e-8 Å, velocities, potential energy and forces to 1e-8
relative, against ase.md.verlet.VelocityVerlet. The trajectory is read with
ase.io.read (valid extxyz; momenta give ASE's get_velocities()); the CSV log
agrees with the frames; a run killed with SIGKILL or stopped with SIGINT
leaves only whole frames; stops (T bound) are reported with exit 0; bad
input exits 2 and writes nothing. ASE or numpy missing is a failure (the
imports fail and no closing line is printed)."""
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.lj import LennardJones  # noqa: E402
from ase.cluster import Icosahedron  # noqa: E402
from ase.io import read, write  # noqa: E402
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_md_")
rng = np.random.default_rng(20240612)


def start_file(name, atoms, T):
    atoms = atoms.copy()
    atoms.rattle(0.03, seed=int(rng.integers(1 << 30)))
    MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
    Stationary(atoms)
    path = os.path.join(TMP, name + "_start.extxyz")
    write(path, atoms)
    return path


def ase_verlet(path, calc, dt_fs, steps, every):
    atoms = read(path)
    atoms.calc = calc
    dyn = VelocityVerlet(atoms, timestep=dt_fs * units.fs)
    frames = [(atoms.get_positions().copy(), atoms.get_velocities().copy(),
               atoms.get_potential_energy(), atoms.get_forces().copy())]
    for _ in range(steps // every):
        dyn.run(every)
        frames.append((atoms.get_positions().copy(), atoms.get_velocities().copy(),
                       atoms.get_potential_energy(), atoms.get_forces().copy()))
    return frames


def compare(name, spec, calc, atoms, T, dt_fs, steps=100, every=10):
    start = start_file(name, atoms, T)
    out = os.path.join(TMP, name + ".extxyz")
    log = os.path.join(TMP, name + ".csv")
    r = check.run("md", "--prior", spec, start, "--integrator", "verlet", "--dt", dt_fs,
                  "--steps", steps, "--save-every", every, "-o", out, "--log", log, "--quiet")
    check.check(r[0] == 0, "%s: md exit %d: %s" % (name, r[0], r[2]))
    if r[0] != 0:
        return
    ref = ase_verlet(start, calc, dt_fs, steps, every)
    got = read(out, ":")
    check.check(len(got) == len(ref), "%s: %d frames, want %d" % (name, len(got), len(ref)))
    moved = 0.0
    for k, (a, (x, v, e, f)) in enumerate(zip(got, ref)):
        close_ = check.close
        close_(a.get_positions(), x, 1e-8, 0, "%s frame %d positions (Å)" % (name, k))
        close_(a.get_velocities(), v, 1e-8 * np.abs(v).max(), 1e-8,
               "%s frame %d velocities (ASE units, from momenta)" % (name, k))
        close_(a.arrays["velocities"] / units.fs, v, 1e-8 * np.abs(v).max(), 1e-8,
               "%s frame %d velocities column (Å/fs)" % (name, k))
        close_(a.get_potential_energy(), e, 1e-10, 1e-8, "%s frame %d energy" % (name, k))
        close_(a.get_forces(), f, 1e-8 * np.abs(f).max(), 1e-8, "%s frame %d forces" % (name, k))
        check.check(a.info.get("step") == k * every and
                    abs(a.info.get("time_fs") - k * every * dt_fs) < 1e-9,
                    "%s frame %d: step %r time_fs %r" % (name, k, a.info.get("step"),
                                                        a.info.get("time_fs")))
        moved = max(moved, np.abs(a.get_positions() - ref[0][0]).max())
    check.check(moved > 0.02, "%s: the atoms moved (%.3g Å)" % (name, moved))
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    check.check(len(rows) == len(got), "%s: one log row per frame" % name)
    for row, a in zip(rows, got):
        ek = a.get_kinetic_energy()
        check.close(float(row["kinetic_eV"]), ek, 1e-12, 1e-9, "%s log kinetic step %s" % (name, row["step"]))
        check.close(float(row["temperature_K"]), ek / (1.5 * units.kB * len(a)), 1e-9, 1e-9,
                    "%s log temperature = E_kin / (1.5 k_B N)" % name)
        check.close(float(row["total_eV"]), a.get_potential_energy() + ek, 1e-12, 1e-9,
                    "%s log total energy" % name)


cu = Icosahedron("Cu", 2)
compare("emt_cu13", "emt", EMT(), cu, 500, 1.0)
sigma, eps = 3.868 / 2 ** (1 / 6), 0.185 / 23.0605  # UFF Ar, as the "lj" prior
ar = Icosahedron("Ar", 2, latticeconstant=2 ** (1 / 6) * sigma * 2 ** 0.5)
compare("lj_ar13", "lj", LennardJones(sigma=sigma, epsilon=eps, smooth=True), ar, 40, 2.0)

# A run killed at any moment leaves whole frames only; SIGINT stops cleanly.
start = start_file("kill", cu, 300)
for sig in (signal.SIGKILL, signal.SIGINT):
    out = os.path.join(TMP, "killed_%d.extxyz" % sig)
    p = subprocess.Popen([check.MLSHIFT, "md", "--prior", "emt", start, "--integrator",
                          "langevin", "--steps", "100000000", "--save-every", "1",
                          "-o", out], stderr=subprocess.PIPE, text=True)
    time.sleep(0.6)
    p.send_signal(sig)
    _, err = p.communicate()
    frames = read(out, ":")
    with open(out) as fh:
        text = fh.read()
    check.check(len(frames) > 2 and all(len(a) == 13 for a in frames) and text.endswith("\n")
                and text.count("Properties=") == len(frames),
                "signal %d: %d whole frames" % (sig, len(frames)))
    if sig == signal.SIGINT:
        check.check(p.returncode == 0 and "interrupted" in err,
                    "SIGINT: exit %d, %s" % (p.returncode, err.strip()))

# A stop is a result: reported, exit 0, the stopped frame written last.
out = os.path.join(TMP, "hot.extxyz")
r = check.run("md", "--prior", "emt", start, "--integrator", "verlet", "--t-max", "1",
              "--steps", "50", "-o", out)
frames = read(out, ":") if os.path.exists(out) else []
check.check(r[0] == 0 and "stopped (temperature)" in r[2] and "step 1 " in r[2]
            and len(frames) == 2 and frames[-1].info["step"] == 1,
            "T-bound stop: exit %d, %d frames, %s" % (r[0], len(frames), r[2].strip()))

# --temperature 0 without velocities starts at rest; --draw-velocities
# ignores the START velocities.
bare = os.path.join(TMP, "bare.extxyz")
write(bare, read(start), columns=["symbols", "positions"])
out = os.path.join(TMP, "rest.extxyz")
r = check.run("md", "--prior", "emt", bare, "--temperature", "0", "--integrator", "verlet",
              "--t-min", "0", "--steps", "10", "-o", out, "--quiet")
check.check(r[0] == 0 and np.abs(read(out, 0).get_velocities()).max() == 0,
            "--temperature 0: starts at rest (%s)" % r[2])
r = check.run("md", "--prior", "emt", start, "--draw-velocities", "--temperature", "300",
              "--seed", "4", "--steps", "10", "-o", out, "--quiet")
check.check(r[0] == 0 and np.abs(read(out, 0).get_velocities() - read(start).get_velocities()).max() > 1e-3,
            "--draw-velocities draws new ones")
r2 = check.run("md", "--prior", "emt", start, "--draw-velocities", "--temperature", "300",
               "--seed", "4", "--steps", "10", "-o", out + "2", "--quiet")
check.check(r2[0] == 0 and open(out).read() == open(out + "2").read(),
            "same seed, same trajectory file")

# A model as the calculator (random PaiNN weights: a smooth but hot PES):
# either head, a fixed radius; energy conserved over the first 4 fs, before
# the random PES pulls atoms together.
model = os.path.join(TMP, "painn.model")
r = check.run("model", "init", "--arch", "painn", "--elements", "H,C,N,O", "--features", "16",
              "--blocks", "2", "--seed", "1", "-o", model)
check.check(r[0] == 0, "model init: %s" % r[2])
asp = check.data("rmd17/rmd17_aspirin_test_01.npz")
energies = {}
for head, radius, dt in (("main", "0", "0.02"), ("prior", "0", "0.02"), ("main", "4", "0.02")):
    out = os.path.join(TMP, "model_%s_%s.extxyz" % (head, radius))
    log = os.path.join(TMP, "model_%s_%s.csv" % (head, radius))
    args = ["md", "--model", model, asp, "--head", head, "--integrator", "verlet", "--dt", dt,
            "--temperature", "300", "--steps", "200", "--save-every", "50", "-o", out,
            "--log", log, "--quiet"]
    if radius != "0":
        args += ["--radius", radius]
    r = check.run(*args)
    check.check(r[0] == 0, "md --model --head %s --radius %s: %s" % (head, radius, r[2]))
    if r[0] == 0:
        with open(log) as fh:
            tot = [float(row["total_eV"]) for row in csv.DictReader(fh)]
        frames = read(out, ":")
        energies[(head, radius)] = frames[0].get_potential_energy()
        check.check(len(frames) == 5 and max(tot) - min(tot) < 5e-3,
                    "model %s r=%s: %d frames, total energy range %.3g eV" %
                    (head, radius, len(frames), max(tot) - min(tot)))
if len(energies) == 3:
    e = list(energies.values())
    check.check(e[0] != e[1] and e[0] != e[2], "heads and radius change the energy: %r" % e)
r = check.run("md", "--model", model, start, "-o", os.path.join(TMP, "cu_model.extxyz"))
check.check(r[0] == 2 and not os.path.exists(os.path.join(TMP, "cu_model.extxyz")),
            "an element the model lacks: exit %d, %s" % (r[0], r[2].strip()))

# Bad input: exit 2, a message, nothing written.
U = os.path.join(TMP, "u.extxyz")
uat = cu.copy()
uat.set_chemical_symbols(["U"] * 13)
write(U, uat)
bad = [
    (["--prior", "nosuch", start], "unknown prior"),
    (["--prior", "emt", U], "element EMT lacks"),
    (["--prior", "emt", start, "--dt", "-1"], "negative dt"),
    (["--prior", "emt", start, "--dt", "abc"], "dt not a number"),
    (["--prior", "emt", start, "--temperature", "-5"], "negative T"),
    (["--prior", "emt", start, "--dt", "0"], "dt 0"),
    (["--prior", "emt", start, "--dt", "nan"], "dt NaN"),
    (["--prior", "emt", start, "--dt", "1e9"], "dt 1e9 fs"),
    (["--prior", "emt", start, "--temperature", "nan"], "T NaN"),
    (["--prior", "emt", start, "--temperature", "1e9"], "T 1e9 K"),
    (["--prior", "emt", start, "--time", "-1"], "negative time"),
    (["--prior", "emt", start, "--friction", "-1"], "negative friction"),
    (["--prior", "xtb:nosuch", start], "unknown xtb method"),
    (["--prior", "emt", start, "--integrator", "nve2"], "unknown integrator"),
    (["--prior", "emt", start, "--frame", "3"], "frame out of range"),
    (["--prior", "emt", "--model", "m.model", start], "two calculators"),
    (["--prior", "emt", start, "--steps", "10", "--time", "1"], "steps and time"),
    (["--prior", "emt", start, "--save-every", "0"], "save-every 0"),
    (["--prior", "emt", os.path.join(TMP, "missing.extxyz")], "missing START"),
    (["--model", os.path.join(TMP, "missing.model"), start], "missing model"),
]
for args, what in bad:
    out = os.path.join(TMP, "bad.extxyz")
    if os.path.exists(out):
        os.remove(out)
    r = check.run("md", *args, "-o", out)
    check.check(r[0] == 2 and r[2].startswith("mlshift: ") and not os.path.exists(out),
                "%s: exit %d, %r, output %s" % (what, r[0], r[2].strip(),
                                                os.path.exists(out)))
r = check.run("md", "--prior", "emt", start)
check.check(r[0] == 2 and "-o" in r[2], "no output file: %s" % r[2].strip())
r = check.run("md", "--help")
check.check(r[0] == 0 and "--integrator" in r[1] and "--friction" in r[1], "md --help")
check.done()
