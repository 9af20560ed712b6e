# Board support for QEMU's MPS2 machines (AN385/AN386/AN500), no Python
# module: zc_board_init (MICROPY_PORT_INIT_FUNC, firmware/boards/common.mk).
ZC_MPS2_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(ZC_MPS2_DIR)/mps2_board.c
