# Board support for QEMU's versatilepb (ARM926EJ-S), no Python module: the
# console UART the port's uart.h asks for (its uart.c knows no PL011).
ZC_VERSATILE_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZC_VERSATILE_DIR)/pl011_uart.c
