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
  # The reviewers' warm kernel (`papermill -k clusterkrise ...`, README): a kernelspec inside the venv.
  python -m clusterkrise.warmkernel install >/dev/null \
    || echo "!! the warm kernel 'clusterkrise' could not be installed; papermill without -k still works" >&2
}

# apt-get that waits for another apt/dpkg process (an unattended upgrade on a fresh machine, say) to release its
# lock instead of failing at once; after APT_LOCK_TIMEOUT seconds (default 600) it gives up with one message.
APT_LOCK_TIMEOUT="${APT_LOCK_TIMEOUT:-600}"
APT_LOCK_POLL="${APT_LOCK_POLL:-5}"
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_TIMEOUT)) said="" output status
  while :; do
    # DPkg::Lock::Timeout makes apt itself wait for dpkg's lock; the loop covers the lists and archives locks too.
    output="$(apt-get -o DPkg::Lock::Timeout="$APT_LOCK_POLL" "$@" 2>&1)" && status=0 || status=$?
    if [ "$status" = 0 ]; then
      [ -z "$output" ] || printf '%s\n' "$output"
      return 0
    fi
    if ! grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock (the )?(administration )?directory' <<<"$output"; then
      printf '%s\n' "$output" >&2
      return "$status"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "!! another apt/dpkg process still holds the package lock after ${APT_LOCK_TIMEOUT} s; wait until it has finished (ps -C apt-get,apt,dpkg,unattended-upgr) and run this script again (APT_LOCK_TIMEOUT=seconds waits longer)" >&2
      return 1
    fi
    if [ -z "$said" ]; then
      echo "==> another apt/dpkg process holds the package lock (an automatic upgrade?); waiting up to ${APT_LOCK_TIMEOUT} s …" >&2
      said=1
    fi
    sleep "$APT_LOCK_POLL"
  done
}

ensure_chromium() {
  # The HTML check drives Debian's chromium headless; pip cannot provide a browser here.
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser test"
    apt_get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt_get install -y -qq chromium >/dev/null
  else
    echo "!! chromium is not installed and cannot be installed without root: the browser test will report it" >&2
  fi
}
