# The C6747 / OMAP-L137 EMAC driver: portable core + MDIO/PHY layer + the
# MicroPython binding; on the unix port also its behavioural model.
C6747_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(C6747_DIR)/c6747_emac.c $(C6747_DIR)/c6747_mdio.c $(C6747_DIR)/c6747_phy.c $(C6747_DIR)/c6747_emac_mp.c
CFLAGS_USERMOD += -I$(C6747_DIR) -I$(C6747_DIR)/../dma -I$(C6747_DIR)/../pool
ifneq ($(filter %/ports/unix,$(CURDIR)),)
SRC_USERMOD_C += $(C6747_DIR)/model/c6747_model.c
endif
