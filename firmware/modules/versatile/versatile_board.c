// Board start-up for the VERSATILEPB image, run from mp_init() (MicroPython's
// MICROPY_PORT_INIT_FUNC hook, set in firmware/boards/common.mk): SP804
// timer 0 free-running, a changing value for os.urandom's stirring
// (firmware/common/os_urandom.c). The PL011 console needs no help.
#include <stdint.h>

#define SP804_TIMER0_BASE   (0x101e2000u)
#define TIMER_LOAD          (*(volatile uint32_t *)(SP804_TIMER0_BASE + 0x00u))
#define TIMER_CONTROL       (*(volatile uint32_t *)(SP804_TIMER0_BASE + 0x08u))
#define CTRL_32BIT          (1u << 1)
#define CTRL_ENABLE         (1u << 7)

void zc_board_init(void);

void zc_board_init(void) {
    TIMER_CONTROL = 0;
    TIMER_LOAD = 0xffffffffu;
    TIMER_CONTROL = CTRL_ENABLE | CTRL_32BIT;   // free-running, no interrupt
}
