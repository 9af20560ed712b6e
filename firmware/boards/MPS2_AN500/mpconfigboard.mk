# Cortex-M7 on QEMU's mps2-an500 (ARM MPS2 FPGA image AN500): the STM32F7
# driver's core. Boots in the firmware tests (host_tests/firmware).
QEMU_MACHINE = mps2-an500
FW_CPU = cortex-m7
FW_MCU_NAME = Cortex-M7
MPY_CROSS_FLAGS += -march=armv7em

# Extra user C module folders (drivers/NAME or firmware/modules/NAME, each
# with a micropython.mk), besides drivers/pool which every board has: the
# STM32 ETH driver and the DMA layer it shares (drivers/dma).
FW_DRIVERS = dma stm32_eth
# The M7's D-cache maintained by address around every DMA buffer
# (drivers/dma/zcdma.h; the other choice: ZCDMA_CACHE_NONE with an MPU region).
CFLAGS += -DZCDMA_CACHE=ZCDMA_CACHE_CM7

# QEMU boots it in the firmware tests (host_tests/firmware).
FW_BOOT = 1

include $(dir $(lastword $(MAKEFILE_LIST)))../mps2.mk
