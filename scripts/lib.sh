# Shared set-up for scripts/serve and scripts/test. Sourced, not run.
# Creates .venv/ (the project's virtualenv, see DESIGN.md) and installs the project into it
# from the lock files under requirements/.

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PYTHON=${PYTHON:-python3}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: need root to run: $*" >&2; return 1; fi
}

apt_install() {
  # Debian packages the project needs on a fresh machine (apt-get update once first).
  if [ -z "${TALLY_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq && export TALLY_APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

make_venv() {
  # .venv/ with an up-to-date pip, created once.
  if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
      rm -rf .venv
      echo "python3 -m venv is missing; installing Debian's python3-venv" >&2
      apt_install python3-venv
      "$PYTHON" -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
}

ensure_venv() {
  # $1: the extras to install, e.g. "test" (empty for the app alone). Every package
  # comes at the version pinned in requirements/<extras or app>.txt (see scripts/lock),
  # then Tally itself, editable, without resolving anything again.
  local extras=${1:-}
  local lock="requirements/${extras:-app}.txt"
  make_venv
  # Re-install only when the lock file or pyproject.toml changed since the last install.
  local stamp=".venv/.installed-${extras:-app}" wanted
  wanted=$(cat "$lock" pyproject.toml | sha256sum)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --requirement "$lock"
    # setuptools comes from the lock too, so the build needs no isolated environment.
    .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .
    echo "$wanted" >"$stamp"
  fi
}
