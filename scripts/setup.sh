# Sourced by scripts/build and scripts/test: one virtual environment in .venv with the project installed.
# Re-running is cheap: pip skips what is already there.
set -euo pipefail

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PROJECT_ROOT"

PYTHON="${PYTHON:-python3}"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating virtual environment .venv"
    "$PYTHON" -m venv .venv
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi

install_project() {  # $1: pip extras, e.g. "[test]" or ""
  echo "==> installing clusterkrise$1 and its dependencies"
  python -m pip install --quiet --disable-pip-version-check -e ".$1"
}

ensure_chromium() {
  # The HTML check drives Debian's chromium headless; pip cannot provide a browser here.
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! chromium is not installed and cannot be installed without root: the browser test will report it" >&2
  fi
}
