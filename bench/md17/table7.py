#!/usr/bin/env python3
"""Folds the runs of bench/md17/table7 into the Table 7 columns: per
molecule and model (before / after TTT) the number of seeds, stability
time mean ± std (ps; numpy's std, ddof 0), how many runs collapsed, h(r)
MAE mean ± std against the MD17 frames, and from the shift monitor the
mean time of the first flagged frame and how many collapsed runs were
flagged before they collapsed. Writes OUTDIR/table7.csv, table7.md and
table7.json (one object; bench/md17/report.py folds it in).

    table7.py OUTDIR [--time PS]"""
import csv
import glob
import json
import math
import os
import re
import sys

out = sys.argv[1]
time_ps = float(sys.argv[sys.argv.index("--time") + 1]) if "--time" in sys.argv else None
PAPER = {("toluene", "before"): "< 1", ("toluene", "after"): "100",
         ("naphthalene", "before"): "< 1", ("naphthalene", "after"): "43 ± 5.2"}


def mean_std(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    if not v:
        return None, None
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / len(v))


def first_flag(log):
    """Time (ps) of the first saved frame the monitor flagged, or None."""
    if not os.path.exists(log):
        return None
    with open(log) as fh:
        for row in csv.DictReader(fh):
            if row.get("ood_force") == "1" or row.get("ood_connectivity") == "1":
                return float(row["time_ps"])
    return None


runs = {}
for path in sorted(glob.glob(os.path.join(out, "md", "*.analyze.json"))):
    m = re.match(r"(\w+)\.(before|after)\.s(\d+)\.analyze\.json$", os.path.basename(path))
    if not m:
        continue
    text = open(path).read().strip()
    if not text:
        continue
    a = json.loads(text.splitlines()[-1])
    base = path[: -len(".analyze.json")]
    err = open(base + ".err").read() if os.path.exists(base + ".err") else ""
    stop = re.search(r"stopped \((\w+)\)", err)
    flag = first_flag(base + ".csv")
    runs.setdefault((m.group(1), m.group(2)), []).append({
        "seed": int(m.group(3)), "stability_ps": a["stability_ps"], "collapsed": a["collapsed"],
        "hr_mae": a["hr_mae"], "mean_temperature_K": a["mean_temperature_K"],
        "stop": stop.group(1) if stop else None, "first_flag_ps": flag,
        "flag_before_collapse": (a["collapsed"] and flag is not None and flag < a["stability_ps"])})

rows = []
for (mol, kind), rs in sorted(runs.items(), key=lambda k: (k[0][0], k[0][1] != "before")):
    sm, ss = mean_std([r["stability_ps"] for r in rs])
    hm, hs = mean_std([r["hr_mae"] for r in rs])
    fm, _ = mean_std([r["first_flag_ps"] for r in rs])
    coll = [r for r in rs if r["collapsed"]]
    rows.append({"molecule": mol, "model": kind, "seeds": len(rs), "time_ps": time_ps,
                 "stability_mean_ps": sm, "stability_std_ps": ss, "collapsed": len(coll),
                 "hr_mae_mean": hm, "hr_mae_std": hs,
                 "first_flag_mean_ps": fm,
                 "collapsed_flagged_before": sum(r["flag_before_collapse"] for r in coll),
                 "paper_stability_ps": PAPER.get((mol, kind)), "runs": rs})

cols = ["molecule", "model", "seeds", "time_ps", "stability_mean_ps", "stability_std_ps",
        "collapsed", "hr_mae_mean", "hr_mae_std", "first_flag_mean_ps",
        "collapsed_flagged_before", "paper_stability_ps"]


def fmt(v, p=3):
    if v is None:
        return ""
    return ("%%.%dg" % p) % v if isinstance(v, float) else str(v)


tmp = os.path.join(out, "table7.csv.tmp")
with open(tmp, "w") as fh:
    fh.write(",".join(cols) + "\n")
    for r in rows:
        fh.write(",".join(fmt(r[c], 6) for c in cols) + "\n")
os.replace(tmp, os.path.join(out, "table7.csv"))
md = ["| molecule | model | seeds | stability (ps) | collapsed | h(r) MAE | first flag (ps) "
      "| collapses flagged before | paper |", "|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    md.append("| %s | %s TTT | %d | %s ± %s of %s | %d | %s ± %s | %s | %d of %d | %s |" % (
        r["molecule"], r["model"], r["seeds"], fmt(r["stability_mean_ps"]),
        fmt(r["stability_std_ps"], 2), fmt(time_ps), r["collapsed"], fmt(r["hr_mae_mean"]),
        fmt(r["hr_mae_std"], 2), fmt(r["first_flag_mean_ps"]), r["collapsed_flagged_before"],
        r["collapsed"], r["paper_stability_ps"] or ""))
with open(os.path.join(out, "table7.md.tmp"), "w") as fh:
    fh.write("\n".join(md) + "\n")
os.replace(os.path.join(out, "table7.md.tmp"), os.path.join(out, "table7.md"))
with open(os.path.join(out, "table7.json.tmp"), "w") as fh:
    json.dump({"time_ps": time_ps, "rows": rows}, fh, indent=1)
os.replace(os.path.join(out, "table7.json.tmp"), os.path.join(out, "table7.json"))
print("\n".join(md))
