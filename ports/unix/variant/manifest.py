# Frozen into the zcstack unix build: asyncio and the stack package.
include("$(MPY_DIR)/extmod/asyncio")
package("stack", base_path="../../..")
