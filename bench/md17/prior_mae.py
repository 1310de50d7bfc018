#!/usr/bin/env python3
"""The force MAE (meV/Å, over all 3N components) of a prior's forces
(prior_forces, written by `mlshift label`) against the frames' own forces,
as one JSON line: {"frames": N, "force_mae_meV": X}.

    prior_mae.py LABELLED.extxyz"""
import json
import sys

import numpy as np
from ase.io import read

fr = read(sys.argv[1], ":")
d = np.concatenate([a.arrays["prior_forces"] - a.get_forces() for a in fr])
print(json.dumps({"frames": len(fr), "force_mae_meV": 1e3 * float(np.abs(d).mean())}))
