# Sourced by scripts/demo, scripts/test and scripts/bench: make .venv if missing and keep it
# installed for the extras asked for ($SUBLUX_EXTRAS), reinstalling only when pyproject changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where the user ran the script: this file changes to $ROOT, so a script resolves a relative
# path the user gave against CALLER_DIR (`from_caller PATH` prints it absolute).
CALLER_DIR="$PWD"
from_caller() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$CALLER_DIR/$1" ;;
  esac
}
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
fi
extras="${SUBLUX_EXTRAS:-}"
stamp=".venv/.sublux-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) [$extras]"
if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
  echo "installing sublux${extras:+[$extras]} into .venv" >&2
  case ",$extras," in
    *,train,*)
      # The CPU build of torch, pinned: any other spec pulls gigabytes of CUDA packages.
      # A CUDA machine keeps whatever torch it already has.
      .venv/bin/python -c "import torch" 2>/dev/null \
        || .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on "torch==${SUBLUX_TORCH:-2.13.0}" >&2
      ;;
  esac
  .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on -e ".${extras:+[$extras]}" >&2
  # Compile curation's numba kernels now, once, into their on-disk cache: otherwise the first
  # `curate align` after an install pays it (tens of seconds on a 2-core machine).
  echo "compiling curation's numba kernels (once per install)" >&2
  .venv/bin/python -m sublux.warmup >&2
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
