# Board support for QEMU's versatilepb (ARM926EJ-S): the console UART the
# port's uart.h asks for (its uart.c knows no PL011), zc_board_init (MMU and
# caches on, a timer; MICROPY_PORT_INIT_FUNC, firmware/boards/common.mk) and
# a `zcboard` module (sctlr()).
ZC_VERSATILE_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZC_VERSATILE_DIR)/pl011_uart.c $(ZC_VERSATILE_DIR)/versatile_board.c
