#!/usr/bin/env bash
# Build zcstack's MicroPython unix binary: the pinned Debian source tree
# (tools/fetch_micropython.sh), our variant, our C modules and the frozen stack.
#
#   tools/build_micropython.sh [32|64] [make args...]
#
# 64 (the default): build/unix/micropython, for this machine.
# 32: build/unix32/micropython, an i386 binary (MICROPY_FORCE_32BIT) whose small
#     ints stop at 2^30 as on the 32-bit boards; no `ffi` there (libffi for
#     i386 would need a foreign architecture), frozen native code for x86.
# Incremental: a second run only relinks what changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bits=64
case "${1:-}" in
    32|64) bits=$1; shift ;;
esac
mpy=$("$top/tools/fetch_micropython.sh" | tail -n1)
if [ "$bits" = 32 ]; then out=$top/build/unix32; else out=$top/build/unix; fi
mkdir -p "$out" "$top/.cache/mpy-lib"
# A frozen build wants MPY_LIB_DIR to name a micropython-lib checkout; the
# stripped tree has none and we need none of it, only its marker file.
[ -f "$top/.cache/mpy-lib/README.md" ] || echo "placeholder micropython-lib (unused)" > "$top/.cache/mpy-lib/README.md"
jobs=$(nproc 2>/dev/null || echo 2)
# Frozen Viper/native code is compiled by mpy-cross for the host's emitter.
case "$(uname -m)" in
    x86_64) march=x64 ;;
    i?86) march=x86 ;;
    armv7*) march=armv7m ;;
    *) echo "build_micropython: no native emitter known for $(uname -m)" >&2; exit 1 ;;
esac
width=()
if [ "$bits" = 32 ]; then
    case "$march" in
        x64|x86) march=x86 ;;
        *) echo "build_micropython: BITS=32 is built for x86 hosts only" >&2; exit 1 ;;
    esac
    width=(MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0)
fi
make -s -C "$mpy/mpy-cross" -j"$jobs" >/dev/null
# The make log goes to $out/build.log (shown when the build fails, or
# on the terminal with ZC_VERBOSE=1).
log=$out/build.log
if [ "${ZC_VERBOSE:-0}" = 1 ]; then log=/dev/stdout; fi
if ! make -s -C "$mpy/ports/unix" -j"$jobs" \
    VARIANT_DIR="$top/ports/unix/variant" \
    BUILD="$out/obj" PROG=micropython \
    USER_C_MODULES="$top/drivers" \
    FROZEN_MANIFEST="$top/ports/unix/variant/manifest.py" \
    MPY_LIB_DIR="$top/.cache/mpy-lib" \
    MPY_CROSS_FLAGS="-march=$march" \
    ${width[@]+"${width[@]}"} \
    "$@" >"$log" 2>&1; then
    [ "$log" = /dev/stdout ] || tail -n 60 "$log" >&2
    echo "build_micropython: build failed (log: $log)" >&2
    exit 1
fi
cp -f "$out/obj/micropython" "$out/micropython"
echo "$out/micropython"
