# QEMU's MPS2 machines: the board file sets FW_CPU, FW_MCU_NAME and
# QEMU_MACHINE, then includes this. Soft float on every core: the port's
# startup code does not enable an FPU, and the stack has no floats.
include $(dir $(lastword $(MAKEFILE_LIST)))common.mk

CFLAGS += -mthumb -mcpu=$(FW_CPU) -mfloat-abi=soft
# QEMU_SOC_MPS2 selects the port's CMSDK UART driver (UART0 at 0x40004000,
# the same on AN385, AN386 and AN500).
CFLAGS += -DQEMU_SOC_MPS2 -DMICROPY_HW_MCU_NAME='"$(FW_MCU_NAME)"'

LDSCRIPT = $(FW_DIR)/boards/mps2.ld

# How the GC finds roots in registers: Thumb-2 (ARMv7-M).
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

# Board support (firmware/modules/mps2: start-up, see mps2_board.c).
FW_BOARD_MODULES = mps2
