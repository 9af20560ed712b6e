# ARM926EJ-S (ARMv5TEJ, ARM state): the OMAP-L137's ARM core, where the C6747
# EMAC driver runs with the stack. Built as QEMU's versatilepb (same core,
# PL011 console at 0x101F1000). As on the OMAP-L137, it runs with the MMU
# (flat map) and the caches on: firmware/modules/versatile/versatile_board.c.
QEMU_MACHINE = versatilepb
FW_CPU = arm926ej-s
FW_MCU_NAME = ARM926EJ-S

include $(dir $(lastword $(MAKEFILE_LIST)))../common.mk

CFLAGS += -marm -mcpu=arm926ej-s -mfloat-abi=soft
CFLAGS += -DZC_SOC_VERSATILE -DMICROPY_HW_MCU_NAME='"$(FW_MCU_NAME)"'
LDSCRIPT = $(FW_DIR)/boards/versatile.ld
# GC roots in registers: the portable setjmp-based helper (no Thumb-2 here).
SRC_BOARD_O = shared/runtime/gchelper_generic.o
# The native emitter for ARM state (MICROPY_EMIT_ARM in ports/qemu): mpy-cross
# calls it armv6; the code it emits uses ARMv4T/v5 instructions only.
MPY_CROSS_FLAGS += -march=armv6

# Board support (firmware/modules/versatile: the PL011 console).
FW_BOARD_MODULES = versatile
# Extra user C module folders (drivers/NAME or firmware/modules/NAME, each
# with a micropython.mk), besides drivers/pool which every board has: the
# C6747/OMAP-L137 EMAC driver and the DMA layer it shares (drivers/dma).
FW_DRIVERS = dma c6747_emac
# The caches are on (versatile_board.c): CP15 clean/invalidate by MVA around
# every DMA buffer, drain write buffer as the barrier (drivers/dma/zcdma.h).
CFLAGS += -DZCDMA_CACHE=ZCDMA_CACHE_ARM926

# QEMU boots it in the firmware tests (host_tests/firmware).
FW_BOOT = 1
