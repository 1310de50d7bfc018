# SPDX-License-Identifier: MIT
"""The JSON reader against Python's json module: random documents written
by json.dumps, read by us and re-serialised, equal after json.loads."""
import json
import os
import random
import subprocess
import tempfile

from check import check, done, MLSHIFT

exe = os.path.join(os.path.dirname(MLSHIFT), "tests", "test_json")
tmp = tempfile.mkdtemp(prefix="mlshift-json-")
rng = random.Random(11)


def value(depth):
    k = rng.randrange(7 if depth < 4 else 4)
    if k == 0:
        return rng.choice([None, True, False])
    if k == 1:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.randrange(-10**9, 10**9),
                           rng.uniform(-1, 1) * 10 ** rng.randrange(-300, 300)])
    if k in (2, 3):
        return "".join(rng.choice('ab c"\\/\n\t\u00e9\u4e2d1\U0001f600') for _ in range(rng.randrange(12)))
    if k in (4, 5):
        return [value(depth + 1) for _ in range(rng.randrange(5))]
    return {"k%d" % i: value(depth + 1) for i in range(rng.randrange(5))}


for t in range(60):
    doc = {"case": t, "body": value(0)}
    p = os.path.join(tmp, "d%d.json" % t)
    with open(p, "w") as fh:
        json.dump(doc, fh, indent=rng.choice([None, 1, 4]), ensure_ascii=rng.random() < 0.5)
    r = subprocess.run([exe, "--dump", p], capture_output=True, text=True)
    ok = r.returncode == 0
    try:
        ok = ok and json.loads(r.stdout) == doc
    except ValueError:
        ok = False
    check(ok, "document %d: %s" % (t, r.stderr or r.stdout[:200]))
done()
