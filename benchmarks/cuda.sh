#!/usr/bin/env bash
# quarch on a CUDA machine, in one go: the CUDA tests (tests/quantum/test_cuda.py:
# values, gradients, training and whole searches on the device against the CPU;
# tests/quantum/test_cuda_graph.py: the small path's CUDA graphs against its plain
# replay), the small path with and without its graphs against the block engine
# (simulator.py --graphs), and the simulator benchmark with quarch and tensorcircuit-ng
# on the GPU.
#
# Run from the repository root, with quarch and its test dependencies importable:
#   bash benchmarks/cuda.sh [LOG_DIR] [BUDGET_S] [MAX_N]
# LOG_DIR (default cuda-logs) receives the three logs; BUDGET_S (default 1.5) is the
# simulator benchmark's seconds per measurement; MAX_N (default 16) its largest
# register (the n = 12 and 16 rows cost minutes of tensorcircuit-ng compiles); GRAPHS=0
# in the environment skips the --graphs table. The exit status is the tests'.
set -u -o pipefail
logs=${1:-cuda-logs}
budget=${2:-1.5}
max_n=${3:-16}
mkdir -p "$logs"
python3 - <<'EOF'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"device 0: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
EOF
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu \
    --format=csv 2>/dev/null
python3 -m pytest -q -p no:cacheprovider tests/quantum/test_cuda.py \
    tests/quantum/test_cuda_graph.py tests/quantum/test_small_dense.py \
    tests/test_seeded_rng.py 2>&1 | tee "$logs/cuda_tests.log"
status=$?
if [ "${GRAPHS:-1}" != 0 ]; then
    PYTHONUNBUFFERED=1 python3 benchmarks/simulator.py --device cuda --graphs --budget "$budget" \
        2>&1 | tee "$logs/graphs_cuda.log"
fi
PYTHONUNBUFFERED=1 python3 benchmarks/simulator.py --device cuda --budget "$budget" \
    --max-n "$max_n" 2>&1 | tee "$logs/simulator_cuda.log"
exit $status
