#!/usr/bin/env bash
# Cross-compile the driver's board side (ZCDMA_HOST=0) with Debian's
# arm-none-eabi-gcc, warnings as errors, against a real MicroPython Cortex-M
# configuration: the headers MicroPython's ports/qemu generated in QEMU_BUILD
# (built with USER_C_MODULES holding pool/, dma/ and stm32_eth/; see
# docs/drivers.md). For Cortex-M7 with cache maintenance by address and with
# the non-cacheable (MPU) configuration, and for Cortex-M4 (F4: no cache).
#
#   drivers/stm32_eth/cross_check.sh /path/to/micropython/ports/qemu /path/to/qemu-build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
qemu=${1:?ports/qemu directory}
build=${2:?the qemu build directory (BUILD=)}
drivers=$(cd "$here/.." && pwd)
srcs=("$drivers/dma/zcdma.c" "$drivers/dma/zcdma_mp.c" "$drivers/pool/zcpool.c"
      "$here/eth_core.c" "$here/eth_phy.c" "$here/mod_stm32_eth.c")
common=(-std=gnu99 -Os -Wall -Wextra -Werror -Wpointer-arith -Wdouble-promotion -Wfloat-conversion
        -ffunction-sections -fdata-sections -DQEMU_SOC_MPS2 -DMICROPY_ROM_TEXT_COMPRESSION=1
        -DMICROPY_HEAP_SIZE=143360 "-DFFCONF_H=\"lib/oofatfs/ffconf.h\""
        -I"$drivers/dma" -I"$drivers/pool" -I"$here" -I"$qemu" -I"$qemu/../.." -I"$build")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
    local name=$1; shift
    for s in "${srcs[@]}"; do
        arm-none-eabi-gcc "$@" "${common[@]}" -c "$s" -o "$out/$(basename "$s" .c).o"
    done
    echo "$name: OK"
    arm-none-eabi-size -t "$out"/eth_core.o "$out"/eth_phy.o "$out"/mod_stm32_eth.o | tail -n 1 | \
        awk -v n="$name" '{print n ": stm32_eth text+data+bss = " $1 "+" $2 "+" $3 " bytes"}'
}
run "cortex-m7 cache maint" -mthumb -mcpu=cortex-m7 -mfloat-abi=soft -DZCDMA_CACHE=ZCDMA_CACHE_CM7
run "cortex-m7 non-cacheable" -mthumb -mcpu=cortex-m7 -mfloat-abi=soft -DZCDMA_CACHE=ZCDMA_CACHE_NONE
run "cortex-m4" -mthumb -mcpu=cortex-m4 -mfloat-abi=soft -DZCDMA_CACHE=ZCDMA_CACHE_NONE
