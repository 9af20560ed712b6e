# Prints a board's make variable for tools/build_firmware.sh:
#   make -s -f firmware/query.mk BOARD_DIR=firmware/boards/X print-FW_DRIVERS
include $(BOARD_DIR)/mpconfigboard.mk
print-%:
	@echo '$($*)'
