#!/usr/bin/env bash
# For a maintainer, on purpose: does quarch pass its checks with the newest releases
# of everything it depends on? It runs the README's test command in a fresh virtual
# environment with the lock left out (only torch stays pinned: another spelling pulls
# a CUDA build of several GB here). A failure is an early warning of what the next lock
# update (scripts/lock.sh) will meet; CI is not affected, since it installs with
# requirements/ci.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=$(python - <<'PY'
import re
readme = open("README.md").read()
quick = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, re.S | re.M).group(1)
test_cmd = re.findall(r"```bash\n(.*?)```", quick, re.S)[1].strip()
assert " -c requirements/ci.txt" in test_cmd, test_cmd
print(test_cmd.replace(" -c requirements/ci.txt", "", 1))
PY
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python -m venv "$tmp/venv"
# shellcheck disable=SC1091
. "$tmp/venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 QUARCH_OFFLINE=1
echo "+ $cmd"
bash -c "$cmd"
echo "newest releases it ran with:"
pip list --format=freeze | grep -iE '^(optuna|numpy|scipy|scikit-learn|typer|rich|qiskit|qiskit-aer|qiskit-ibm-runtime|pennylane|dimod|dwave-samplers|onnx|onnxruntime|ray|matplotlib)=='
