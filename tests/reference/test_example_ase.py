# SPDX-License-Identifier: MIT
"""examples/ase_md.py runs as the README gives it: velocity Verlet with the
sGDML aspirin prior conserves the total energy (to 5 meV over 100 steps of
0.5 fs), the model's per-atom energies add up to its energy, and EMT's
stress of an expanded copper cell is an isotropic tension (off-diagonal
zero, diagonal equal and positive). Skipped in the sanitizer build (its
library needs the sanitizer runtime loaded before Python)."""
import os
import re
import subprocess
import tempfile

from check import check, data, done, run, skip, MLSHIFT, ROOT

build = os.path.dirname(MLSHIFT)
if "san" in os.path.basename(build):
    skip("not applicable to the sanitizer build: its library needs the sanitizer runtime")
tmp = tempfile.mkdtemp(prefix="mlshift-example-ase-")
model = os.path.join(tmp, "tiny.model")
check(run("model", "init", "--elements", "H,C,O", "--features", "16", "-o", model)[0] == 0,
      "model init")
env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"),
           MLSHIFT_LIB=os.path.join(build, "libmlshift.so"))
p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "examples", "ase_md.py"), model,
                    "sgdml:" + data("sgdml_models/sgdml_2018_aspirin.npz"),
                    data("sgdml_models/geom_aspirin.xyz")], capture_output=True, text=True,
                   env=env)
check(p.returncode == 0, "examples/ase_md.py runs: %s" % p.stderr[-2000:])
etot = [float(x) for x in re.findall(r"Etot (\S+) eV", p.stdout)]
check(len(etot) == 5, "five MD lines: %r" % p.stdout)
if etot:
    check(max(etot) - min(etot) < 5e-3, "NVE total energy conserved: %r" % etot)
m = re.search(r"model: E (\S+) eV \(sum of per-atom (\S+)\)", p.stdout)
check(m is not None and abs(float(m.group(1)) - float(m.group(2))) < 1e-5,
      "per-atom energies add up: %r" % ((m.groups(),) if m else p.stdout))
m = re.search(r"stress \(xx yy zz yz xz xy\) eV/Å³: (.*)", p.stdout)
s = [float(x) for x in m.group(1).split()] if m else []
check(len(s) == 6 and s[0] > 0.01 and abs(s[0] - s[1]) < 1e-5 and abs(s[0] - s[2]) < 1e-5
      and max(abs(x) for x in s[3:]) < 1e-5, "EMT stress isotropic tension: %r" % s)
done()
