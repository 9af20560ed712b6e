// Board start-up for the VERSATILEPB image, run from mp_init() (MicroPython's
// MICROPY_PORT_INIT_FUNC hook, set in firmware/boards/common.mk):
//
// - the MMU on with a flat (virtual = physical) map and the caches on, as
//   the OMAP-L137's ARM926 runs (its data cache works only with the MMU
//   on): SDRAM write-back cacheable, everything else (the peripherals)
//   strongly ordered. MicroPython's own native emitter already cleans the
//   D-cache and invalidates the I-cache after emitting ARM code (py/emitglue.c).
//   QEMU translates through the table but models no cache.
// - SP804 timer 0 free-running, a changing value for os.urandom's stirring
//   (firmware/common/os_urandom.c). The PL011 console needs no help.
#include <stdint.h>

#include "py/runtime.h"

#define SP804_TIMER0_BASE   (0x101e2000u)
#define TIMER_LOAD          (*(volatile uint32_t *)(SP804_TIMER0_BASE + 0x00u))
#define TIMER_CONTROL       (*(volatile uint32_t *)(SP804_TIMER0_BASE + 0x08u))
#define CTRL_32BIT          (1u << 1)
#define CTRL_ENABLE         (1u << 7)

// ARMv5 first-level section descriptors (ARM926EJ-S TRM, "MMU").
#define SECT                (2u)            // a 1 MB section
#define SECT_B              (1u << 2)       // bufferable
#define SECT_C              (1u << 3)       // cacheable
#define SECT_BIT4           (1u << 4)       // should be one on ARMv5
#define SECT_AP_RW          (3u << 10)      // read/write at every privilege
#define SDRAM_MB            (128u)          // QEMU's versatilepb default RAM

#define SCTLR_M             (1u << 0)       // MMU
#define SCTLR_C             (1u << 2)       // D-cache
#define SCTLR_I             (1u << 12)      // I-cache

static uint32_t zc_ttb[4096] __attribute__((aligned(16384)));

static void zc_mmu_on(void) {
    uint32_t sctlr;
    __asm volatile ("mrc p15, 0, %0, c1, c0, 0" : "=r" (sctlr));
    if (sctlr & SCTLR_M) {
        return;     // a soft reboot: already on (and the caches hold live data)
    }
    for (uint32_t i = 0; i < 4096u; i++) {
        uint32_t attr = i < SDRAM_MB ? (SECT_C | SECT_B) : 0u;
        zc_ttb[i] = (i << 20) | SECT_AP_RW | SECT_BIT4 | attr | SECT;
    }
    uint32_t zero = 0;
    __asm volatile ("mcr p15, 0, %0, c7, c10, 4" : : "r" (zero) : "memory");  // drain write buffer
    __asm volatile ("mcr p15, 0, %0, c3, c0, 0" : : "r" (1u));                // domain 0: client
    __asm volatile ("mcr p15, 0, %0, c2, c0, 0" : : "r" (zc_ttb) : "memory"); // table base
    __asm volatile ("mcr p15, 0, %0, c8, c7, 0" : : "r" (zero));              // TLBs invalid
    __asm volatile ("mcr p15, 0, %0, c7, c7, 0" : : "r" (zero));              // caches invalid (still off: nothing dirty)
    sctlr |= SCTLR_M | SCTLR_C | SCTLR_I;
    __asm volatile ("mcr p15, 0, %0, c1, c0, 0" : : "r" (sctlr) : "memory");
    __asm volatile ("nop\n nop\n nop" ::: "memory");
}

void zc_board_init(void);

void zc_board_init(void) {
    zc_mmu_on();
    TIMER_CONTROL = 0;
    TIMER_LOAD = 0xffffffffu;
    TIMER_CONTROL = CTRL_ENABLE | CTRL_32BIT;   // free-running, no interrupt
}

// zcboard.sctlr(): the CP15 control register (MMU, caches on?), for the tests.
static mp_obj_t zc_board_sctlr(void) {
    uint32_t sctlr;
    __asm volatile ("mrc p15, 0, %0, c1, c0, 0" : "=r" (sctlr));
    return mp_obj_new_int_from_uint(sctlr);
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_board_sctlr_obj, zc_board_sctlr);

static const mp_rom_map_elem_t zc_board_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_zcboard) },
    { MP_ROM_QSTR(MP_QSTR_sctlr), MP_ROM_PTR(&zc_board_sctlr_obj) },
};
static MP_DEFINE_CONST_DICT(zc_board_globals, zc_board_globals_table);

const mp_obj_module_t zc_board_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&zc_board_globals,
};
MP_REGISTER_MODULE(MP_QSTR_zcboard, zc_board_module);
