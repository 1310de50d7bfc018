# SPDX-License-Identifier: MIT
"""mlshift analyze against MDsim's observables written again in numpy/ASE.

Trajectories come from `mlshift md`: sGDML uracil, 300 K, velocity Verlet
(stable, NVE), and the same molecule in a 2000 K Langevin bath, where the
sGDML model leaves its training region and a bond breaks after ~0.7 ps. The twin
computes, as observable.ipynb does (reference-notes §3): bonds from
ASE's NeighborList(natural_cutoffs(atoms), self_interaction=False) on the
first frame (skin 0.3 on each radius), reference lengths = means over the
rMD17 frames (--labels old), the first frame i - 1 with max |l - l_ref|
> 0.5 as the collapse (stability (collapse_pt - 1) * interval), h(r) =
np.histogram(cdist of frames [0, collapse_pt), linspace(1e-6, 10, 501),
density=True) and of all reference frames, MAE = mean|dh| * 10; the NVE
drift as np.polyfit's slope per atom. Then the CSV and SVG outputs and bad
input (exit 2)."""
import csv
import json
import os
import sys
import tempfile
import warnings
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

np = check.require("numpy", "python3-numpy")
ase_io = check.require("ase.io", "python3-ase")
from ase.neighborlist import NeighborList, natural_cutoffs  # noqa: E402

warnings.simplefilter("ignore")
TMP = tempfile.mkdtemp(prefix="mlshift_analyze_")
GEOM = check.data("sgdml_models/geom_uracil.xyz")
SGDML = "sgdml:" + check.data("sgdml_models/sgdml_2018_uracil.npz")
REF = check.data("rmd17/rmd17_uracil_test_01.npz")
for p in (GEOM, REF, SGDML[6:]):
    if not os.path.exists(p):
        check.check(False, "required data missing: " + p)
        check.done()


def twin(traj_path, ref_coords, interval_ps, threshold=0.5):
    traj = ase_io.read(traj_path, ":")
    x = np.array([a.get_positions() for a in traj])
    first = traj[0]
    nl = NeighborList(natural_cutoffs(first), self_interaction=False)
    nl.update(first)
    bonds = sorted({(min(i, j), max(i, j)) for i, j in nl.get_connectivity_matrix().todok().keys()})
    bonds = np.array(bonds)

    def lens(xx):
        return np.linalg.norm(xx[..., bonds[:, 0], :] - xx[..., bonds[:, 1], :], axis=-1)

    ref_len = lens(ref_coords).mean(0) if ref_coords is not None else lens(x[0])
    collapse_pt = len(x)
    for i in range(1, len(x)):
        if np.abs(lens(x[i - 1]) - ref_len).max() > threshold:
            collapse_pt = i
            break
    bins = np.linspace(1e-6, 10, 501)

    def hr(xx):
        d = np.linalg.norm(xx[:, :, None, :] - xx[:, None, :, :], axis=-1)
        return np.histogram(d.ravel(), bins=bins, density=True)[0]

    h = hr(x[:collapse_pt])
    out = {"bonds": len(bonds), "collapse_pt": collapse_pt, "h": h,
           "stability_ps": (collapse_pt - 1) * interval_ps}
    if ref_coords is not None:
        g = hr(ref_coords)
        out["g"] = g
        out["mae"] = np.abs(h - g).mean() * 10
    e = np.array([a.info["total_energy"] for a in traj[:collapse_pt]])
    t = np.array([a.info["time_fs"] for a in traj[:collapse_pt]]) * 1e-3
    out["drift"] = np.polyfit(t, e, 1)[0] / len(first)
    out["fluct"] = np.std(e - np.polyval(np.polyfit(t, e, 1), t))
    out["temp"] = np.mean([a.info["temperature"] for a in traj[:collapse_pt]])
    out["max_dev"] = max(np.abs(lens(x[k]) - ref_len).max() for k in range(collapse_pt))
    return out


def analyze(traj, *extra):
    r = check.run("analyze", traj, *extra)
    check.check(r[0] == 0, "analyze %s: exit %d: %s" % (traj, r[0], r[2]))
    if r[0] != 0:
        return None
    lines = r[1].strip().splitlines()
    check.check(len(lines) == 1, "analyze prints one JSON line, got %d" % len(lines))
    return json.loads(lines[-1])


ref_coords = np.load(REF)["coords"]

# 1. A stable NVE run: sGDML uracil at 300 K, frames every 5 fs.
stable = os.path.join(TMP, "stable.extxyz")
r = check.run("md", "--prior", SGDML, GEOM, "--integrator", "verlet", "--temperature", "300",
              "--dt", "0.5", "--steps", "400", "--every", "10", "--seed", "3", "-o", stable,
              "--quiet")
check.check(r[0] == 0, "md sgdml: exit %d: %s" % (r[0], r[2]))
csv_path = os.path.join(TMP, "hr.csv")
svg_path = os.path.join(TMP, "hr.svg")
got = analyze(stable, "--reference", REF, "--labels", "old", "--csv", csv_path, "--plot", svg_path)
want = twin(stable, ref_coords, 0.005)
if got:
    check.check(got["frames"] == 41 and got["atoms"] == 12, "frames/atoms %r" % got)
    check.close(got["save_interval_ps"], 0.005, 1e-12, 0, "save interval")
    check.check(got["bonds"] == want["bonds"], "bonds %d, numpy/ASE %d" % (got["bonds"], want["bonds"]))
    check.check(got["reference_frames"] == 1000, "reference frames %r" % got["reference_frames"])
    check.check(not got["collapsed"] and want["collapse_pt"] == 41,
                "stable run: collapsed %r, twin collapse_pt %d" % (got["collapsed"], want["collapse_pt"]))
    check.close(got["stability_ps"], want["stability_ps"], 1e-12, 0, "stability (ps)")
    check.close(got["hr_mae"], want["mae"], 0, 1e-6, "h(r) MAE")
    check.close(got["max_bond_deviation_A"], want["max_dev"], 1e-9, 0, "max bond deviation")
    check.close(got["energy_drift_eV_per_atom_ps"], want["drift"], 1e-9, 1e-6, "NVE drift")
    check.close(got["energy_fluctuation_eV"], want["fluct"], 1e-12, 1e-6, "energy fluctuation")
    check.close(got["mean_temperature_K"], want["temp"], 0, 1e-9, "mean temperature")
    check.check(got["hr_mae"] > 0 and abs(got["energy_drift_eV_per_atom_ps"]) < 0.05,
                "plausible: MAE %r, drift %r" % (got["hr_mae"], got["energy_drift_eV_per_atom_ps"]))
    with open(csv_path) as fp:
        rows = list(csv.DictReader(fp))
    check.check(len(rows) == 500, "CSV rows %d, want 500" % len(rows))
    edges = np.linspace(1e-6, 10, 501)
    check.close([float(x["r_lo_A"]) for x in rows], edges[:-1], 1e-9, 0, "CSV bin edges")
    check.close([float(x["h_traj"]) for x in rows], want["h"], 1e-12, 1e-12, "CSV h(r) trajectory")
    check.close([float(x["h_ref"]) for x in rows], want["g"], 1e-12, 1e-12, "CSV h(r) reference")
    try:
        root = ET.parse(svg_path).getroot()
        check.check(root.tag.endswith("svg") and len(root.findall(".//{*}polyline")) >= 3,
                    "SVG with h(r) curves and energies")
    except (ET.ParseError, OSError) as exc:
        check.check(False, "plot: %s" % exc)

# Without a reference: the first frame's own bond lengths, no MAE.
got2 = analyze(stable)
want2 = twin(stable, None, 0.005)
if got2:
    check.check(got2["hr_mae"] is None and got2["reference_frames"] == 0, "no reference: no MAE")
    check.close(got2["max_bond_deviation_A"], want2["max_dev"], 1e-9, 0, "max deviation vs frame 0")

# 2. A run that falls apart: sGDML uracil at 2000 K.
hot = os.path.join(TMP, "hot.extxyz")
r = check.run("md", "--prior", SGDML, GEOM, "--integrator", "langevin", "--friction", "0.05",
              "--temperature", "2000", "--dt", "0.5", "--steps", "2000", "--every", "10",
              "--seed", "1", "-o", hot, "--quiet", "--t-max", "0")
check.check(r[0] == 0, "md sgdml hot: exit %d: %s" % (r[0], r[2]))
got = analyze(hot, "--reference", REF, "--labels", "old")
mae_stable = want["mae"]
want = twin(hot, ref_coords, 0.005)
if got:
    check.check(10 < want["collapse_pt"] < 201, "twin finds the collapse (collapse_pt %d)" % want["collapse_pt"])
    check.check(got["collapsed"] and got["collapse_frame"] == want["collapse_pt"] - 1,
                "collapse frame %r, twin collapse_pt - 1 = %d" % (got["collapse_frame"], want["collapse_pt"] - 1))
    check.check(got["hr_frames"] == want["collapse_pt"], "h(r) frames %r, want %d"
                % (got["hr_frames"], want["collapse_pt"]))
    check.close(got["stability_ps"], want["stability_ps"], 1e-12, 0, "collapsed: stability (ps)")
    check.close(got["hr_mae"], want["mae"], 0, 1e-6, "collapsed: h(r) MAE")
    check.check(got["max_bond_deviation_A"] > 0.5, "collapsed: max deviation %r > 0.5"
                % got["max_bond_deviation_A"])
    print("measured: uracil sGDML 300 K NVE 0.2 ps: h(r) MAE %.4f; 2000 K Langevin: collapse "
          "at %.3f ps, MAE %.4f" % (mae_stable, got["stability_ps"], got["hr_mae"]))

# A different --threshold moves the collapse as the twin says.
got3 = analyze(hot, "--reference", REF, "--labels", "old", "--threshold", "1.5")
want3 = twin(hot, ref_coords, 0.005, threshold=1.5)
if got3:
    check.close(got3["stability_ps"], want3["stability_ps"], 1e-12, 0, "threshold 1.5: stability")

# 3. Bad input: exit 2, nothing on stdout.
other = check.data("rmd17/rmd17_aspirin_test_01.npz")
for args, what in (((stable, "--reference", other), "reference of another molecule"),
                   ((os.path.join(TMP, "missing.extxyz"),), "missing trajectory"),
                   ((stable, "--threshold", "-1"), "negative threshold"),
                   ((stable, stable), "two trajectories"),
                   ((stable, "--bogus"), "unknown option")):
    r = check.run("analyze", *args)
    check.check(r[0] == 2 and r[1] == "" and "mlshift:" in r[2],
                "%s: exit %d, stdout %r, stderr %r" % (what, r[0], r[1][:80], r[2][:200]))

check.done()
