// zcstack's unix variant: the standard feature level, but Ctrl-C must never
// longjmp out of C code (a driver call holding a ring half-updated), so the
// keyboard interrupt is taken synchronously.
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#include "variants/mpconfigvariant_common.h"
#undef MICROPY_ASYNC_KBD_INTR
#define MICROPY_ASYNC_KBD_INTR (0)
