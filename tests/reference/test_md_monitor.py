# SPDX-License-Identifier: MIT
"""mlshift md --monitor STATS and --refine-radius STATS against numpy.

Training statistics of rMD17 uracil (mlshift stats, 5 Å, old labels). Two
sGDML uracil runs with the monitor: one like the training data (500 K
Langevin) and one heated to 2000 K, which drifts out of distribution and
breaks a bond. For every saved frame the numpy twin rebuilds the radius
graph at the run's cutoff, the normalised Laplacian L = I - D^-1/2 A D^-1/2
(isolated atoms L_ii = 1), its ascending spectrum, eq. 5 against the
statistics' average spectrum, and the mean force norm of the frame's forces,
and the 1-std flags; the frame info and the CSV log must say the same. The
hot run must reach larger distances and flag connectivity, and its first
connectivity flag must come before the collapse `mlshift analyze` finds.
--refine-radius: on an expanded start frame the twin's eq. 4 choice over
linspace(3, 9, 10) and the training cutoff (ties to the training cutoff,
then the smaller radius) is the run's monitor_cutoff, kept for every frame.
Bad combinations exit 2 and write nothing."""
import csv
import json
import os
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

np = check.require("numpy", "python3-numpy")
check.require("ase", "python3-ase")
from ase.io import read, write  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_monitor_")
GEOM = check.data("sgdml_models/geom_uracil.xyz")
SGDML = "sgdml:" + check.data("sgdml_models/sgdml_2018_uracil.npz")
TRAIN = check.data("rmd17/rmd17_uracil_train_01.npz")
for p in (GEOM, TRAIN, SGDML[6:]):
    if not os.path.exists(p):
        check.check(False, "required data missing: " + p)
        check.done()

stats_path = os.path.join(TMP, "uracil.stats")
r = check.run("stats", TRAIN, "--labels", "old", "--cutoff", "5", "-o", stats_path, "--quiet")
check.check(r[0] == 0, "stats: exit %d: %s" % (r[0], r[2]))
if r[0] != 0:
    check.done()
stats = json.load(open(stats_path))
avg = np.array(stats["spectrum"])


def spectrum(x, cutoff):
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    a = ((d <= cutoff) & ~np.eye(len(x), dtype=bool)).astype(float)
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.where(deg > 0, deg, 1)), 0)
    lap = np.eye(len(x)) - inv[:, None] * a * inv[None, :]
    return np.linalg.eigvalsh(lap)


def eq5(eig):
    n = max(len(eig), len(avg))
    e, g = np.zeros(n), np.zeros(n)
    e[:len(eig)] = eig
    g[:len(avg)] = avg
    return float(((g - e) ** 2).sum())


def run_md(name, *args):
    out = os.path.join(TMP, name + ".extxyz")
    log = os.path.join(TMP, name + ".csv")
    r = check.run("md", *args, "-o", out, "--log", log)
    check.check(r[0] == 0, "%s: exit %d: %s" % (name, r[0], r[2]))
    return out, log, r[2]


def check_frames(name, out, log, cutoff):
    """Every frame's monitor numbers against the twin; returns the distances."""
    frames = read(out, ":")
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    check.check(len(rows) == len(frames), "%s: %d log rows, %d frames" % (name, len(rows), len(frames)))
    fn_mean, fn_std = stats["force_norm"]["mean"], stats["force_norm"]["std"]
    sd_mean, sd_std = stats["spectral_distance"]["mean"], stats["spectral_distance"]["std"]
    got_d, want_d, got_f, want_f, bad_flags = [], [], [], [], 0
    for a, row in zip(frames, rows):
        want = eq5(spectrum(a.get_positions(), cutoff))
        fn = float(np.linalg.norm(a.get_forces(), axis=1).mean())
        got_d.append(a.info["spectral_distance"])
        want_d.append(want)
        got_f.append(a.info["force_norm"])
        want_f.append(fn)
        flags = (bool(a.info["ood_force"]), bool(a.info["ood_connectivity"]))
        twin = (abs(fn - fn_mean) > fn_std, want - sd_mean > sd_std)
        bad_flags += flags != twin or (int(row["ood_force"]), int(row["ood_connectivity"])) != twin
    check.check(all(a.info["monitor_cutoff"] == cutoff for a in frames),
                "%s: monitor_cutoff %r in every frame" % (name, cutoff))
    check.close(got_d, want_d, 1e-10, 1e-8, "%s: spectral distance per frame" % name)
    check.close(got_f, want_f, 1e-10, 1e-10, "%s: force norm per frame" % name)
    check.close([float(x["spectral_distance"]) for x in rows], want_d, 1e-9, 1e-8,
                "%s: log spectral_distance" % name)
    check.check(bad_flags == 0, "%s: %d frames whose OOD flags differ from the twin's"
                % (name, bad_flags))
    return np.array(want_d), [a.info["ood_connectivity"] for a in frames], frames


common = ["--prior", SGDML, GEOM, "--integrator", "langevin", "--friction", "0.05", "--dt", "0.5",
          "--every", "20", "--seed", "1", "--t-max", "0", "--monitor", stats_path]
cold, cold_log, _ = run_md("cold", *common, "--temperature", "500", "--steps", "1000")
hot, hot_log, hot_err = run_md("hot", *common, "--temperature", "2000", "--steps", "2000")
if os.path.exists(cold) and os.path.exists(hot):
    d_cold, f_cold, _ = check_frames("cold", cold, cold_log, 5.0)
    d_hot, f_hot, hot_frames = check_frames("hot", hot, hot_log, 5.0)
    check.check(d_hot.max() > 10 * d_cold.max(), "heating raises the distance: max %.4g vs %.4g"
                % (d_hot.max(), d_cold.max()))
    check.check(sum(f_hot) > sum(f_cold), "more connectivity flags when hot: %d vs %d"
                % (sum(f_hot), sum(f_cold)))
    check.check("frames flagged" in hot_err, "the summary reports the monitor: %r" % hot_err[-300:])
    r = check.run("analyze", hot, "--reference", TRAIN, "--labels", "old")
    check.check(r[0] == 0, "analyze hot: %s" % r[2])
    if r[0] == 0 and True in f_hot:
        an = json.loads(r[1])
        first = hot_frames[f_hot.index(True)].info["time_fs"] * 1e-3
        check.check(an["collapsed"] and first < an["stability_ps"],
                    "first connectivity flag %.4g ps precedes the collapse at %r ps" % (first, an["stability_ps"]))
        print("measured: uracil sGDML, stats rMD17 5 A: 500 K max eq.5 %.4g (%d/%d flagged); "
              "2000 K max %.4g (%d/%d flagged), first flag %.3g ps, collapse %.3g ps"
              % (d_cold.max(), sum(f_cold), len(f_cold), d_hot.max(), sum(f_hot), len(f_hot),
                 first, an["stability_ps"]))

# Without --monitor nothing is added.
plain = os.path.join(TMP, "plain.extxyz")
r = check.run("md", "--prior", SGDML, GEOM, "--steps", "20", "-o", plain, "--quiet")
check.check(r[0] == 0 and "spectral_distance" not in read(plain).info, "no monitor, no monitor keys")

# --refine-radius on an expanded start frame, with a model.
model = os.path.join(TMP, "painn.model")
r = check.run("model", "init", "--arch", "painn", "--elements", "H,C,N,O", "--features", "8",
              "--blocks", "1", "--seed", "1", "-o", model)
check.check(r[0] == 0, "model init: %s" % r[2])
atoms = read(GEOM)
atoms.set_positions(atoms.get_positions() * 1.6)
wide = os.path.join(TMP, "wide.extxyz")
write(wide, atoms)
cands = list(np.linspace(3, 9, 10))
x = atoms.get_positions()
dist = {rad: eq5(spectrum(x, rad)) for rad in cands + [5.0]}
best = min(dist.values())
ties = [rad for rad in dist if dist[rad] == best]
want_r = 5.0 if 5.0 in ties else min(ties)
out, log, err = run_md("refined", "--model", model, wide, "--refine-radius", stats_path,
                       "--monitor", stats_path, "--integrator", "verlet", "--dt", "0.1",
                       "--temperature", "50", "--steps", "40", "--every", "10", "--t-min", "0")
if os.path.exists(out):
    frames = read(out, ":")
    cut = {a.info["monitor_cutoff"] for a in frames}
    check.check(len(cut) == 1 and abs(cut.pop() - want_r) < 1e-12,
                "refined radius kept: %r, twin %r (distances %r)" % (
                    {a.info["monitor_cutoff"] for a in frames}, want_r, dist))
    check.check(want_r != 5.0, "the expanded frame refines away from 5 Å (twin %r)" % want_r)
    check.check("radius refined" in err, "the choice is reported: %r" % err[:300])
    check.close([a.info["spectral_distance"] for a in frames],
                [eq5(spectrum(a.get_positions(), want_r)) for a in frames], 1e-10, 1e-8,
                "refined run: distances at the refined radius")
    print("measured: uracil x1.6 refines to %.4g A (eq.5 %.4g; %.4g at 5 A)"
          % (want_r, dist[want_r], dist[5.0]))

# Bad combinations: exit 2, nothing written.
bad = os.path.join(TMP, "bad.extxyz")
for args, what in ((("--prior", SGDML, GEOM, "--refine-radius", stats_path), "refine with a prior"),
                   (("--model", model, GEOM, "--refine-radius", stats_path, "--radius", "4"),
                    "refine and radius"),
                   (("--model", model, GEOM, "--radii", "3:9:10"), "radii without refine"),
                   (("--prior", SGDML, GEOM, "--monitor", os.path.join(TMP, "none.stats")),
                    "missing monitor stats")):
    r = check.run("md", *args, "-o", bad, "--steps", "10")
    check.check(r[0] == 2 and "mlshift:" in r[2] and not os.path.exists(bad),
                "%s: exit %d, %r, written %r" % (what, r[0], r[2][:200], os.path.exists(bad)))

check.done()
