#!/usr/bin/env bash
# dida's setup step: installs what the build, the tests and the data builders need.
# Idempotent: every step checks first and does nothing when its result is already there.
#   Debian packages  -> apt-get install (only the missing ones)
#   npm packages     -> npm ci from the committed package-lock.json (only when it changed)
#   ImGui sources    -> Debian source package `imgui`, unpacked into .deps/imgui
#   data packages    -> mate-backgrounds and python3-sklearn, unpacked (not installed) into .deps/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/.deps"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

APT_PACKAGES=(
  # build
  build-essential cmake pkg-config dpkg-dev ca-certificates
  libgtest-dev libbenchmark-dev
  # fuzzers: clang with libFuzzer and the sanitizers (make fuzz, and a short run in make test)
  clang-14 libclang-rt-14-dev
  # native: LibTorch on OpenBLAS/OpenMP, ONNX writer
  libtorch-dev libopenblas0-openmp libonnx-dev libprotobuf-dev protobuf-compiler
  # data-parallel training: the headers of Gloo, which LibTorch's c10d group is built on
  libgloo-dev
  # core: header-only libraries and zlib
  libeigen3-dev nlohmann-json3-dev libcli11-dev libstb-dev zlib1g-dev
  # dida serve: an HTTP server library
  libcpp-httplib-dev
  # web: emscripten, and the browser the tests drive
  emscripten chromium
  # data: Fashion-MNIST and the TrueType fonts of the synthetic digits
  dataset-fashion-mnist fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35
  # benchmarks: the PyTorch-Python side of bench/train_vs_pytorch.sh and bench/time_to_accuracy.mjs, and
  # the reference DANN (bench/dann_reference.py reads a pair's PNG folders)
  python3-torch python3-numpy python3-pil
)

log() { printf '[setup] %s\n' "$*"; }

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}

# 1. Debian packages ---------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all ${#APT_PACKAGES[@]} present"
fi

# node and npm come with the machine (node 20); Debian's nodejs would conflict with them.
command -v node >/dev/null && command -v npm >/dev/null || { echo "[setup] error: node and npm are required (node 20)" >&2; exit 1; }

# 2. npm packages ------------------------------------------------------------------
# onnxruntime-node's install script would fetch CUDA files from the internet: skip it,
# the CPU binaries ship inside the npm package.
stamp="$ROOT/node_modules/.dida-lock"
if [ -f "$stamp" ] && cmp -s "$stamp" "$ROOT/package-lock.json"; then
  log "npm packages: up to date"
else
  log "npm ci"
  (cd "$ROOT" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/package-lock.json" "$stamp"
fi

# 3. Debian source and data packages, in a private apt state -------------------------
# A deb-src list made from the system's own mirror and suite; the system's apt
# configuration is left alone.
private_apt() {
  local state="$DEPS/apt"
  mkdir -p "$state/lists/partial" "$state/archives/partial"
  if [ ! -f "$state/sources.list" ]; then
    local src=/etc/apt/sources.list.d/debian.sources
    local uri suite
    uri=$(awk '/^URIs:/{print $2; exit}' "$src")
    suite=$(awk '/^Suites:/{print $2; exit}' "$src")
    echo "deb-src $uri $suite main" > "$state/sources.list.tmp"
    mv "$state/sources.list.tmp" "$state/sources.list"
  fi
  if [ ! -f "$state/updated" ]; then
    log "private apt state: update (deb-src)"
    apt-get -qq -o APT::Sandbox::User=root -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
      -o Dir::State::Lists="$state/lists" update
    touch "$state/updated"
  fi
  apt-get -qq -o APT::Sandbox::User=root -o Dir::Etc::SourceList="$state/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$state/lists" "$@"
}

if [ -f "$DEPS/imgui/imgui.h" ]; then
  log "ImGui sources: present in .deps/imgui"
else
  log "fetching the ImGui sources (Debian source package imgui)"
  work="$DEPS/imgui-src"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && private_apt source --download-only imgui)
  dsc=$(ls "$work"/imgui_*.dsc | head -n1)
  (cd "$work" && dpkg-source --no-check -x "$dsc" unpacked >/dev/null)
  rm -rf "$DEPS/imgui"
  mv "$work/unpacked" "$DEPS/imgui"
  rm -rf "$work"
fi

# Binary packages whose files the data builders read, unpacked but not installed.
extract_deb() {  # package, marker file inside the package
  local pkg="$1" marker="$2" dest="$DEPS/$1"
  if [ -e "$dest/$marker" ]; then
    log "$pkg: present in .deps/$pkg"
    return
  fi
  apt_update_once
  log "fetching $pkg (unpacked into .deps/$pkg, not installed)"
  local work="$DEPS/$pkg.download"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  dpkg-deb -x "$work"/"$pkg"_*.deb "$dest.tmp"
  rm -rf "$dest" && mv "$dest.tmp" "$dest" && rm -rf "$work"
}
extract_deb mate-backgrounds usr/share/backgrounds/mate/nature
extract_deb python3-sklearn usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz

log "done"
