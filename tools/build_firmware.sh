#!/usr/bin/env bash
# Build a zcstack firmware image: MicroPython's ports/qemu Makefile (the pinned
# Debian tree, tools/fetch_micropython.sh) with our board definition
# (firmware/boards/BOARD), Debian's arm-none-eabi toolchain, the stack frozen
# in (firmware/manifest.py) and our C modules (drivers/pool plus the board's
# FW_DRIVERS) as user C modules.
#
#   tools/build_firmware.sh BOARD [make args...]
#   FW_DRIVERS="stm32_eth" tools/build_firmware.sh MPS2_AN500   # other driver list
#
# Out: firmware/build/BOARD/firmware.{elf,bin,hex}, size.json (text/data/bss
# and what our parts take: tools/fw_size.py), board.json (what the tests need
# to boot it). Incremental: a second run only redoes what changed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
boards=$top/firmware/boards
board=${1:-}
if [ -z "$board" ] || [ ! -f "$boards/$board/mpconfigboard.mk" ]; then
    echo "build_firmware: BOARD must be one of:" $(cd "$boards" && ls -d */ | tr -d /) >&2
    exit 2
fi
shift
bdir=$boards/$board
out=$top/firmware/build/$board
mpy=$("$top/tools/fetch_micropython.sh" | tail -n1)
mkdir -p "$out" "$top/.cache/mpy-lib"
[ -f "$top/.cache/mpy-lib/README.md" ] || echo "placeholder micropython-lib (unused)" > "$top/.cache/mpy-lib/README.md"
jobs=$(nproc 2>/dev/null || echo 2)

query() { make -s --no-print-directory -f "$top/firmware/query.mk" BOARD_DIR="$bdir" "print-$1"; }

# The user C modules: drivers/pool, the board's FW_BOARD_MODULES and FW_DRIVERS, each a folder
# of drivers/ (or of firmware/modules/) with a micropython.mk. They are linked
# into one folder, which becomes USER_C_MODULES: nothing else of drivers/
# (the TAP driver, the unix-only zcsys) gets in.
board_modules=$(query FW_BOARD_MODULES)
# FW_DRIVERS in the environment (make firmware BOARD=X FW_DRIVERS="a b")
# replaces the board's list: to try a driver before listing it.
if [ -n "${FW_DRIVERS+set}" ]; then drivers=$FW_DRIVERS; else drivers=$(query FW_DRIVERS); fi
machine=$(query QEMU_MACHINE)
boot=$(query FW_BOOT)
modules=$(echo pool $board_modules $drivers)
mods=$out/usermods
rm -rf "$mods"; mkdir -p "$mods"
for m in $modules; do
    if [ -f "$top/drivers/$m/micropython.mk" ]; then src=$top/drivers/$m
    elif [ -f "$top/firmware/modules/$m/micropython.mk" ]; then src=$top/firmware/modules/$m
    else
        echo "build_firmware: $board lists FW_DRIVERS module '$m', but neither drivers/$m/ nor firmware/modules/$m/ has a micropython.mk" >&2
        exit 1
    fi
    [ -e "$mods/$m" ] || ln -s "$src" "$mods/$m"
done

# The port's Makefile does not track flags: when the board definition, the
# shared board files, the module list or the make arguments change, start
# from a clean object tree.
stamp=$( { cat "$bdir/mpconfigboard.mk" "$boards"/*.mk "$boards"/*.ld; echo "$modules"; echo "$*"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/config.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$out/obj"
fi

make -s -C "$mpy/mpy-cross" -j"$jobs" >/dev/null
log=$out/build.log
if [ "${ZC_VERBOSE:-0}" = 1 ]; then log=/dev/stdout; fi
if ! make -C "$mpy/ports/qemu" -j"$jobs" \
    BOARD="$board" BOARD_DIR="$bdir" BUILD="$out/obj" \
    USER_C_MODULES="$mods" FW_MODULES="$modules" \
    FROZEN_MANIFEST="$top/firmware/manifest.py" \
    MPY_LIB_DIR="$top/.cache/mpy-lib" \
    "$@" >"$log" 2>&1; then
    [ "$log" = /dev/stdout ] || tail -n 60 "$log" >&2
    echo "build_firmware: $board failed (log: $log)" >&2
    exit 1
fi

echo "$stamp" > "$out/config.stamp"
elf=$out/obj/firmware.elf
for f in elf bin hex; do
    case $f in
        elf) cmp -s "$elf" "$out/firmware.elf" || cp -f "$elf" "$out/firmware.elf" ;;
        bin) arm-none-eabi-objcopy -O binary "$elf" "$out/firmware.bin" ;;
        hex) arm-none-eabi-objcopy -O ihex "$elf" "$out/firmware.hex" ;;
    esac
done
python3 "$top/tools/fw_size.py" --board "$board" --map "$out/obj/firmware.map" \
    --elf "$out/firmware.elf" --build "$out/obj" --modules $modules \
    --qemu-machine "$machine" --boot "$boot" \
    --out "$out" >&2
echo "$out/firmware.elf"
