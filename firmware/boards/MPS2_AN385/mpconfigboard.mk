# Cortex-M3 on QEMU's mps2-an385 (ARM MPS2 FPGA image AN385). Boots in the
# firmware tests (host_tests/firmware).
QEMU_MACHINE = mps2-an385
FW_CPU = cortex-m3
FW_MCU_NAME = Cortex-M3
MPY_CROSS_FLAGS += -march=armv7m

# Extra user C module folders (drivers/NAME or firmware/modules/NAME, each
# with a micropython.mk), besides drivers/pool which every board has.
FW_DRIVERS =

# QEMU boots it in the firmware tests (host_tests/firmware).
FW_BOOT = 1

include $(dir $(lastword $(MAKEFILE_LIST)))../mps2.mk
