# SPDX-License-Identifier: MIT
"""Element symbols and masses against ASE's tables."""
import os
import subprocess

from ase.data import atomic_masses, chemical_symbols

from check import check, done, MLSHIFT

exe = os.path.join(os.path.dirname(MLSHIFT), "tests", "test_elements")
out = subprocess.run([exe, "--dump"], capture_output=True, text=True).stdout.split("\n")
rows = [l.split() for l in out if l.strip()]
check(len(rows) == 118, "118 elements, got %d" % len(rows))
bad = [r for r in rows if chemical_symbols[int(r[0])] != r[1] or float(r[2]) != atomic_masses[int(r[0])]]
check(not bad, "symbols and masses equal ASE's: differing %r" % bad[:3])
done()
