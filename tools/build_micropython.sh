#!/usr/bin/env bash
# Build zcstack's MicroPython unix binary: the pinned Debian source tree
# (tools/fetch_micropython.sh), our variant, our C modules and the frozen stack.
# Output: build/unix/micropython. Incremental: a second run only relinks what changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
mpy=$("$top/tools/fetch_micropython.sh" | tail -n1)
out=$top/build/unix
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
make -s -C "$mpy/mpy-cross" -j"$jobs" >/dev/null
# The make log goes to build/unix/build.log (shown when the build fails, or
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
    "$@" >"$log" 2>&1; then
    [ "$log" = /dev/stdout ] || tail -n 60 "$log" >&2
    echo "build_micropython: build failed (log: $log)" >&2
    exit 1
fi
cp -f "$out/obj/micropython" "$out/micropython"
echo "$out/micropython"
