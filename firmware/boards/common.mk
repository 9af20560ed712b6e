# What every zcstack board shares. Each board's mpconfigboard.mk includes this
# first; MicroPython's ports/qemu Makefile includes the board file (BOARD_DIR)
# and tools/build_firmware.sh drives that Makefile. See docs/firmware.md.
QEMU_ARCH = arm
FW_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

# The GC heap: the stack's objects (connections, counters, pbuf objects);
# the frame and header blocks are zcpool's own static arenas, not heap.
MICROPY_HEAP_SIZE = 1048576

# Our C code (drivers/, firmware/: see the end of this file) builds with the
# unix build's warnings on top of the port's -Wall -Werror.
FW_WARN = -Wextra -Wno-unused-parameter

# A board build, for driver micropython.mk files and C sources alike.
CFLAGS += -DZC_FIRMWARE=1
# os.urandom() (tcp.py's ISN secret, ephemeral ports): the port has none, so
# it comes from our include file (firmware/common/os_urandom.c).
CFLAGS += -DMICROPY_PY_OS_URANDOM=1 -DMICROPY_PY_OS_INCLUDEFILE='"$(FW_DIR)/common/os_urandom.c"'
# Board start-up from mp_init(): zc_board_init(), which every board's
# support module (FW_BOARD_MODULES, firmware/modules/) defines.
CFLAGS += -DMICROPY_PORT_INIT_FUNC='do { extern void zc_board_init(void); zc_board_init(); } while (0)'

# For the drivers' micropython.mk files: a board build (leave the behavioural
# model out, access registers directly) and which core.
ZC_FIRMWARE = 1
ZC_CPU = $(FW_CPU)

# Our C code's objects: build_firmware.sh gives the port each module's real
# folder, so an object lands in $(BUILD)/<absolute source path> (the port's
# $(BUILD)/ prefix then a path starting with /).
FW_TOP := $(abspath $(FW_DIR)/..)
$(BUILD)/$(FW_TOP)/drivers/%.o $(BUILD)/$(FW_TOP)/firmware/%.o: CFLAGS += $(FW_WARN)
