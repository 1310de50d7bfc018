# SPDX-License-Identifier: MIT
"""`mpirun -n 2 mlshift-mpi train` against one process (docs/mpi.md):
training steps per second of the same run (plain mode, PaiNN 64 x 3,
naphthalene, 512 frames, batch 32, 2 epochs = 32 steps, a few seconds:
the first version's 8 steps of F = 32 lasted 0.3 s, too short for the
summary's clock and for a second rank to pay for itself), from the
"seconds" of each run's JSON summary (the training loop only: reading the
data and MPI start-up are outside it). One JSON line."""
FEATURES, FRAMES, BATCH = 64, 512, 32
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLSHIFT = os.environ.get("MLSHIFT_BIN") or os.path.join(ROOT, "build", "mlshift")
MPI_BIN = os.path.join(os.path.dirname(MLSHIFT), "mlshift-mpi")
DATA = os.environ.get("MLSHIFT_DATA") or os.path.join(ROOT, "..", "shared", "data")


def main():
    if not shutil.which("mpirun") or not os.access(MPI_BIN, os.X_OK):
        print("bench_mpi.py: OpenMPI or %s missing, skipped" % MPI_BIN, file=sys.stderr)
        return 0
    tmp = tempfile.mkdtemp(prefix="mlshift-bench-mpi-")
    data = os.path.join(DATA, "rmd17", "rmd17_naphthalene_train_01.npz")
    args = ["train", "--mode", "plain", "--features", str(FEATURES), "--blocks", "3",
            "--epochs", "2", "--batch", str(BATCH), "--split", "%d,0,0" % FRAMES,
            "--part", "train", "--quiet", data]
    out = {}
    for ranks in (1, 2):
        cmd = [MLSHIFT] if ranks == 1 else ["mpirun", "--allow-run-as-root", "--oversubscribe",
                                            "-n", "2", MPI_BIN]
        r = subprocess.run(cmd + args + ["-o", os.path.join(tmp, "m%d.model" % ranks)],
                           capture_output=True, text=True, cwd=tmp,
                           env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
        if r.returncode != 0:
            print("bench_mpi.py: %d rank(s) failed: %s" % (ranks, r.stderr[-1000:]),
                  file=sys.stderr)
            return 1
        s = json.loads(r.stdout.strip().splitlines()[-1])
        out[ranks] = (s["steps"], s["seconds"])
    sps = {k: v[0] / max(v[1], 1e-9) for k, v in out.items()}
    print(json.dumps({"bench": "mpi_train", "arch": "painn", "features": FEATURES, "blocks": 3,
                      "molecule": "naphthalene", "frames": FRAMES, "batch": BATCH,
                      "steps": out[1][0], "steps_per_s_1": round(sps[1], 3),
                      "steps_per_s_2": round(sps[2], 3),
                      "speedup_2": round(sps[2] / sps[1], 3)}))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
