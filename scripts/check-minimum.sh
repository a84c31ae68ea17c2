#!/usr/bin/env bash
# Do the lower bounds in pyproject.toml tell the truth? Installs, in a fresh virtual
# environment, every dependency of the core and of the [test] extra at exactly its
# lower bound (`name>=X` becomes `name==X`; what they need in turn resolves freely),
# then runs the README's test command with those versions instead of the lock. This is
# Optuna's "tests with minimum versions" habit. torch's lower bound is a CUDA build on
# PyPI (several GB to download); nothing else here needs the network.
#
# Usage: scripts/check-minimum.sh [PYTEST ARGS...]   (default: -n 2)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python - "$tmp/minimum.txt" <<'PY'
import re, sys, tomllib
meta = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = meta["dependencies"] + meta["optional-dependencies"]["test"]
pins = {}
for r in reqs:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([0-9][^,;]*)", r.replace(" ", ""))
    if not m:
        sys.exit(f"check-minimum: cannot read a lower bound from {r!r}")
    pins[m.group(1).lower()] = m.group(3)
open(sys.argv[1], "w").write("".join(f"{k}=={v}\n" for k, v in sorted(pins.items())))
PY
torch_min=$(sed -n 's/^torch==//p' "$tmp/minimum.txt")
echo "lower bounds under test:"; sed 's/^/  /' "$tmp/minimum.txt"
python -m venv "$tmp/venv"
# shellcheck disable=SC1091
. "$tmp/venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 QUARCH_OFFLINE=1
pip install -q "torch==$torch_min" -e ".[test]" -c "$tmp/minimum.txt"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
lint-imports
mypy src tests benchmarks
pytest "${@:--n 2}"
