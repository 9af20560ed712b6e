# The layer every DMA MAC driver shares (drivers/dma/zcdma.h). On the unix
# port it is the simulated bus plus the model harness (ZCDMA_HOST); on a
# board only the access layer, map and cache hooks are compiled in.
ZCDMA_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZCDMA_DIR)/zcdma.c $(ZCDMA_DIR)/zcdma_mp.c
CFLAGS_USERMOD += -I$(ZCDMA_DIR) -I$(ZCDMA_DIR)/../pool
ifneq ($(filter %/ports/unix,$(CURDIR)),)
SRC_USERMOD_C += $(ZCDMA_DIR)/zcmodel.c
CFLAGS_USERMOD += -DZCDMA_HOST=1
endif
