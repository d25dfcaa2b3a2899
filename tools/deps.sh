#!/usr/bin/env bash
# Installs the Debian packages that lite_malloc needs, and only the missing ones.
#
#   tools/deps.sh [--check] [GROUP...]     (default group: build)
#
# Groups:
#   build  Bazel (Debian's offline bazel-bootstrap), GoogleTest sources, gcc
#   test   build + cross + what the test suites run (valgrind, python3,
#          pkg-config for make install's test, and the real programs run under
#          lite_malloc: sqlite3, Python's regression tests)
#   cross  the AArch64 cross toolchain (gcc, g++, glibc and libstdc++ for
#          arm64) and qemu-user, for the AArch64 pass (testing/cross/run.sh)
#   clang  clang 14 with its sanitizer and libFuzzer runtimes (--config=clang)
#   fuzz   clang + AFL++
#   bench  build + the allocators compared against, the real programs run
#          under them (sqlite3, python3), valgrind (bench --callgrind)
#   all    every group
#
# Idempotent: packages are checked with dpkg-query first, so on a machine that
# has them all nothing touches the network. Otherwise runs `apt-get update` and
# `apt-get install` as root (through sudo when not root). With --check, only
# lists what is missing and exits 1 if anything is.
set -euo pipefail

pkgs_build=(bazel-bootstrap bazel-rules-java googletest build-essential git)
pkgs_cross=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
  libstdc++-12-dev-arm64-cross qemu-user)
pkgs_test=("${pkgs_build[@]}" "${pkgs_cross[@]}" valgrind python3 sqlite3 libpython3.11-testsuite
  pkgconf)
pkgs_clang=(clang clang-14 llvm-14 libclang-rt-14-dev)
pkgs_fuzz=("${pkgs_build[@]}" "${pkgs_clang[@]}" afl++)
pkgs_bench=("${pkgs_build[@]}" libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
  libtbbmalloc2 sqlite3 python3 valgrind)
pkgs_all=("${pkgs_test[@]}" "${pkgs_clang[@]}" "${pkgs_fuzz[@]}" "${pkgs_bench[@]}")

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

check_only=0
groups=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    -h|--help) usage; exit 0 ;;
    build|test|cross|clang|fuzz|bench|all) groups+=("$arg") ;;
    *) echo "deps.sh: unknown group '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#groups[@]} -gt 0 ]] || groups=(build)

# The wanted packages, each once, in order.
wanted=()
for group in "${groups[@]}"; do
  declare -n list="pkgs_${group}"
  for pkg in "${list[@]}"; do
    [[ " ${wanted[*]} " == *" $pkg "* ]] || wanted+=("$pkg")
  done
  unset -n list
done

missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#wanted[@]} packages for '${groups[*]}' are installed."
  exit 0
fi
echo "deps.sh: missing for '${groups[*]}': ${missing[*]}"
if [[ $check_only -eq 1 ]]; then
  exit 1
fi

if [[ $EUID -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps.sh: not root and no sudo; as root, run:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
