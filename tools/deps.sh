#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks, only what is missing, so the
# README's two commands work there. Idempotent and quick when all is present.
#   tools/deps.sh build [BITS]  compiler, libffi, iproute2: for `make build` / `make run`;
#                               BITS=32 adds gcc-multilib (the 32-bit x86 build)
#   tools/deps.sh test          both widths' build needs, plus ping/arping, nc,
#                               the firmware group and the pinned pip packages
#                               (`make test` builds both widths and the firmware)
#   tools/deps.sh firmware      the Cortex-M/ARM926 cross toolchain and QEMU: for
#                               `make firmware` and the firmware tests
#   tools/deps.sh fuzz          as test, plus requirements-fuzz.txt (atheris, coverage:
#                               tools/fuzz_atheris.py; wheels for CPython 3.11, no compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}
bits=${2:-64}
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

# build-essential/libffi-dev/pkg-config: the MicroPython unix port; xz-utils and
# the archive keyring: fetching and checking Debian's source package; iproute2:
# run.py configures the TAP's host side.
debs="build-essential libffi-dev pkg-config iproute2 xz-utils debian-archive-keyring"
# gcc-multilib: -m32 headers and libc for the 32-bit build (MICROPY_FORCE_32BIT;
# that build has no ffi, so no i386 libffi is needed).
if [ "$what" = test ] || [ "$what" = fuzz ] || [ "$bits" = 32 ]; then
    debs="$debs gcc-multilib"
fi
if [ "$what" = test ] || [ "$what" = fuzz ]; then
    # ip netns / unshare, ping and (iputils) arping for the black-box suite;
    # netcat-openbsd: the README's `nc -u` example
    debs="$debs util-linux iputils-ping iputils-arping procps netcat-openbsd"
fi
if [ "$what" = test ] || [ "$what" = firmware ]; then
    # The firmware images (tools/build_firmware.sh): Debian's bare-metal GCC,
    # its C library (newlib: a Recommends of the compiler, so
    # --no-install-recommends leaves it out, yet the port needs its headers),
    # and QEMU's MPS2/versatilepb machines to boot them (host_tests/firmware).
    debs="$debs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
fi
missing=""
for p in $debs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    echo "deps: apt-get install$missing"
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
fi

# pip only when a pinned requirement of file $1 is not met as pinned
pip_pinned() {
    if ! python3 - "$1" <<'PY'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, _, ver = line.partition("==")
    try:
        if metadata.version(name) != ver:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
    then
        echo "deps: pip install -r $1"
        python3 -m pip install -q --root-user-action=ignore -r "$1" </dev/null
    fi
}

if [ "$what" = test ] || [ "$what" = fuzz ]; then
    pip_pinned requirements-test.txt
fi
# `tools/deps.sh fuzz`: also atheris and coverage (tools/fuzz_atheris.py)
if [ "$what" = fuzz ]; then
    pip_pinned requirements-fuzz.txt
fi
