# The STM32F4/F7 ETH driver (module stm32_eth): register logic (eth_core.c),
# PHY layer (eth_phy.c), MicroPython binding (mod_stm32_eth.c). On the unix
# port the behavioural model (model/) is linked in; drivers/dma/micropython.mk
# sets ZCDMA_HOST there. On a board: ZCDMA_CACHE=ZCDMA_CACHE_CM7 (M7, buffers
# cacheable, maintained by address) or ZCDMA_CACHE_NONE (F4, or an M7 MPU
# region marked non-cacheable over the pool and ETH_DESC_SECTION).
STM32_ETH_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(STM32_ETH_DIR)/eth_core.c $(STM32_ETH_DIR)/eth_phy.c $(STM32_ETH_DIR)/mod_stm32_eth.c
CFLAGS_USERMOD += -I$(STM32_ETH_DIR) -I$(STM32_ETH_DIR)/../dma -I$(STM32_ETH_DIR)/../pool
ifneq ($(filter %/ports/unix,$(CURDIR)),)
SRC_USERMOD_C += $(STM32_ETH_DIR)/model/stm32_eth_model.c
CFLAGS_USERMOD += -I$(STM32_ETH_DIR)/model
endif
