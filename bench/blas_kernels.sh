#!/bin/sh
# The model benchmarks (bench_model and its PyTorch twin) under the BLAS
# kernels the environment pins (OPENBLAS_CORETYPE, as this machine sets it)
# and then under OpenBLAS's own choice (the variable unset for these
# commands only; tests and CI keep the pin), one thread each.
#
#   bench/blas_kernels.sh OUTDIR [REPS]     (after `make bench` built build/bench)
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
OUT=${1:?usage: bench/blas_kernels.sh OUTDIR [REPS]}
REPS=${2:-20}
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
cd "$root"
uptime >"$OUT/kernels.uptime"
build/bench/bench_model "$REPS" >"$OUT/bench_model_pinned.jsonl"
/usr/bin/python3 bench/bench_model.py "$REPS" >"$OUT/bench_model_torch_pinned.jsonl"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE build/bench/bench_model "$REPS" \
    >"$OUT/bench_model_openblas_choice.jsonl"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/bench_model.py "$REPS" \
    >"$OUT/bench_model_torch_openblas_choice.jsonl"
uptime >>"$OUT/kernels.uptime"
echo "kernels: pinned ${OPENBLAS_CORETYPE:-none}; OpenBLAS's choice: $(env -u OPENBLAS_CORETYPE \
    -u OPENBLAS_L2_SIZE build/mlshift --version | sed -n 's/^BLAS: OpenBLAS, //p')" \
    >>"$OUT/kernels.uptime"
