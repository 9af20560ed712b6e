# Board support for QEMU's versatilepb (ARM926EJ-S), no Python module: the
# console UART the port's uart.h asks for (its uart.c knows no PL011), and
# zc_board_init (MICROPY_PORT_INIT_FUNC, firmware/boards/common.mk).
ZC_VERSATILE_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZC_VERSATILE_DIR)/pl011_uart.c $(ZC_VERSATILE_DIR)/versatile_board.c
