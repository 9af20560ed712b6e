# Cortex-M4 on QEMU's mps2-an386 (ARM MPS2 FPGA image AN386): the STM32F4
# driver's core. Boots in the firmware tests (host_tests/firmware).
QEMU_MACHINE = mps2-an386
FW_CPU = cortex-m4
FW_MCU_NAME = Cortex-M4
MPY_CROSS_FLAGS += -march=armv7em

# Extra user C module folders (drivers/NAME or firmware/modules/NAME, each
# with a micropython.mk), besides drivers/pool which every board has: the
# STM32 ETH driver and the DMA layer it shares (drivers/dma).
FW_DRIVERS = dma stm32_eth
# F4: no data cache (ZCDMA_CACHE_NONE, the board default of drivers/dma).

# QEMU boots it in the firmware tests (host_tests/firmware).
FW_BOOT = 1

include $(dir $(lastword $(MAKEFILE_LIST)))../mps2.mk
