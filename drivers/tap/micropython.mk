ZCTAP_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZCTAP_DIR)/zctap.c
# zcpool.h lives next door; the pool's own micropython.mk also adds it.
CFLAGS_USERMOD += -I$(ZCTAP_DIR)/../pool
