// os.urandom(n) for zcstack's firmware boards. MicroPython's extmod/modos.c
// includes this file (MICROPY_PY_OS_INCLUDEFILE, set in
// firmware/boards/common.mk) and lists `urandom` when MICROPY_PY_OS_URANDOM.
//
// The emulated boards have no random number generator, so this is a
// xorshift generator stirred with free-running hardware counters at every
// call: unpredictable enough for TCP's ISN secret and ephemeral ports on a
// test board, NOT a cryptographic source. A real board takes its TRNG here.
#include <stdint.h>
#include "py/runtime.h"

#if defined(QEMU_SOC_MPS2)
// FPGA system control block (MPS2 AN385/AN386/AN500): the 100 Hz clock and
// the prescaled counter, and the CMSDK APB TIMER0 current value.
#define ZC_ENTROPY_0 (*(volatile uint32_t *)0x40028014u)
#define ZC_ENTROPY_1 (*(volatile uint32_t *)0x40028018u)
#define ZC_ENTROPY_2 (*(volatile uint32_t *)0x40000004u)
#elif defined(ZC_SOC_VERSATILE)
// Versatile/PB: the PL031 RTC's seconds and SP804 timer 0's current value.
#define ZC_ENTROPY_0 (*(volatile uint32_t *)0x101e8000u)
#define ZC_ENTROPY_1 (*(volatile uint32_t *)0x101e2004u)
#define ZC_ENTROPY_2 (*(volatile uint32_t *)0x101e2024u)
#else
#error "os_urandom.c: no entropy source known for this board"
#endif

static uint32_t zc_rand_state = 0x2545f491u;

static uint32_t zc_rand_next(void) {
    uint32_t x = zc_rand_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    zc_rand_state = x;
    return x * 0x9e3779b9u;
}

static mp_obj_t zc_os_urandom(mp_obj_t n_in) {
    mp_int_t n = mp_obj_get_int(n_in);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    // Stir the counters in; a zero state would stay zero.
    zc_rand_state ^= ZC_ENTROPY_0 ^ (ZC_ENTROPY_1 << 7) ^ (ZC_ENTROPY_2 << 16) ^ (ZC_ENTROPY_2 >> 16);
    if (zc_rand_state == 0) {
        zc_rand_state = 0x2545f491u;
    }
    vstr_t vstr;
    vstr_init_len(&vstr, (size_t)n);
    uint32_t r = 0;
    for (mp_int_t i = 0; i < n; i++) {
        if ((i & 3) == 0) {
            r = zc_rand_next();
        }
        vstr.buf[i] = (char)(r & 0xff);
        r >>= 8;
    }
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, zc_os_urandom);
