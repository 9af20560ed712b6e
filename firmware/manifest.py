# Frozen into every zcstack firmware image (tools/build_firmware.sh): the
# stack package, compiled by mpy-cross for the board's native emitter, so the
# Viper kernels are machine code in the image. No asyncio: the qemu port has
# no `time` or `select` (mpconfigport.h), which asyncio needs.
package("stack", base_path="..")
