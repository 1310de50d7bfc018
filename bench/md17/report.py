#!/usr/bin/env python3
"""Collects the numbers of one bench/md17/run into one JSON object and a
table on stderr (force MAE, meV/Å, mean over all 3N components)."""
import glob
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "."


def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        return None
    with open(p) as fp:
        return json.loads(fp.read().strip().splitlines()[-1])


def mae(name):
    r = load(name)
    return None if r is None else round(r["force_mae_meV"], 2)


res = {"in_distribution": {}, "unseen": {}, "times": {}}
for m in ["aspirin", "benzene", "uracil"]:
    res["in_distribution"][m] = {"finetuned": mae("eval.ft.%s.json" % m),
                                 "plain": mae("eval.plain.%s.json" % m)}
for m in ["naphthalene", "toluene"]:
    r = {"prior_sgdml_test01": mae("eval.prior.%s.01.json" % m)}
    for t in ["01", "02"]:
        r["plain_test" + t] = mae("eval.plain.%s.%s.json" % (m, t))
        r["before_ttt_test" + t] = mae("eval.ft.%s.%s.json" % (m, t))
        r["after_ttt_test" + t] = mae("eval.ttt.%s.%s.json" % (m, t))
        r["after_ttt_prior_head_test" + t] = mae("eval.ttt-prior-head.%s.%s.json" % (m, t))
    t = load("ttt.%s.json" % m)
    if t:
        g = t["ttt"][0]
        r["ttt"] = {k: g[k] for k in ["steps", "stop", "lr", "seconds"]}
    res["unseen"][m] = r
if os.path.exists(os.path.join(out, "times.csv")):
    with open(os.path.join(out, "times.csv")) as fp:
        for line in fp.read().splitlines()[1:]:
            k, v = line.split(",")
            res["times"][k] = int(v)
for k in ["pre", "ft", "plain"]:
    r = load(k + ".json")
    if r:
        res[k + "_train"] = {x: r.get(x) for x in ["frames", "val_frames", "steps", "seconds",
                                                    "val_force_mae_meV_main",
                                                    "val_force_mae_meV_prior"]}
# Table 7 (bench/md17/table7): MD stability and h(r) MAE before/after TTT
for t7 in (os.path.join(out, "table7", "table7.json"), os.path.join(out, "table7.json")):
    if os.path.exists(t7):
        with open(t7) as fp:
            t = json.load(fp)
        res["md_table7"] = {"time_ps": t["time_ps"],
                            "rows": [{k: v for k, v in r.items() if k != "runs"}
                                     for r in t["rows"]]}
        break
print(json.dumps(res, indent=1))
