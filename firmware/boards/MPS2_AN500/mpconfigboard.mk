# Cortex-M7 on QEMU's mps2-an500 (ARM MPS2 FPGA image AN500): the STM32F7
# driver's core. Boots in the firmware tests (host_tests/firmware).
QEMU_MACHINE = mps2-an500
FW_CPU = cortex-m7
FW_MCU_NAME = Cortex-M7
MPY_CROSS_FLAGS += -march=armv7em

# Extra user C module folders (drivers/NAME or firmware/modules/NAME, each
# with a micropython.mk), besides drivers/pool which every board has.
# When the STM32 ETH driver lands: FW_DRIVERS = stm32_eth (and its DMA layer's
# folder if that has a micropython.mk of its own).
FW_DRIVERS =

# QEMU boots it in the firmware tests (host_tests/firmware).
FW_BOOT = 1

include $(dir $(lastword $(MAKEFILE_LIST)))../mps2.mk
