# SPDX-License-Identifier: MIT
"""ASE with mlshift (python/mlshift_ase.py): velocity Verlet on a molecule
with a prior as the calculator, a model's energy, forces and per-atom
energies of the same molecule, and the stress of a periodic EMT cell.

    PYTHONPATH=python /usr/bin/python3 examples/ase_md.py MODEL PRIOR MOLECULE
"""
import sys

from ase import units
from ase.build import bulk
from ase.io import read
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

from mlshift_ase import MLShift

model, prior, molecule = sys.argv[1:4]
atoms = read(molecule)
atoms.calc = MLShift(prior=prior)
MaxwellBoltzmannDistribution(atoms, temperature_K=300)
Stationary(atoms)
dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
for step in range(0, 101, 25):
    if step:
        dyn.run(25)
    epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
    print("%s step %3d  Epot %.5f eV  Etot %.5f eV" % (prior.split(":")[0], step, epot,
                                                       epot + ekin))

atoms.calc = MLShift(model=model)            # main head at the training cutoff
e, f, ei = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_potential_energies()
print("model: E %.6f eV (sum of per-atom %.6f), max |F| %.4f eV/Å"
      % (e, ei.sum(), (f ** 2).sum(axis=1).max() ** 0.5))

cu = bulk("Cu", "fcc", a=3.7, cubic=True) * (2, 2, 2)
cu.calc = MLShift(prior="emt")
print("EMT Cu32 at a = 3.7 Å: stress (xx yy zz yz xz xy) eV/Å³:",
      " ".join("%.5f" % s for s in cu.get_stress()))
