// Board start-up for the MPS2 images, run from mp_init() (MicroPython's
// MICROPY_PORT_INIT_FUNC hook, set in firmware/boards/common.mk).
//
// QEMU's model of the CMSDK APB UART takes one received byte, then waits for
// its main loop to wake before it looks at the host side again: input sent
// in a burst (a pasted line, a raw-REPL script) stalls after the first byte
// until something else wakes QEMU. A free-running CMSDK APB TIMER0 (1 ms
// period, interrupt off) is such a wake-up: with it a 10 KB raw-REPL script
// arrives in well under a second. On hardware it is merely a running timer.
#include <stdint.h>

#define CMSDK_TIMER0_BASE   (0x40000000u)
#define TIMER_CTRL          (*(volatile uint32_t *)(CMSDK_TIMER0_BASE + 0x00u))
#define TIMER_VALUE         (*(volatile uint32_t *)(CMSDK_TIMER0_BASE + 0x04u))
#define TIMER_RELOAD        (*(volatile uint32_t *)(CMSDK_TIMER0_BASE + 0x08u))
#define TIMER_CTRL_ENABLE   (1u << 0)

#define MPS2_SYSCLK_HZ      (25000000u)   // the FPGA images' system clock

void zc_board_init(void);

void zc_board_init(void) {
    TIMER_CTRL = 0;
    TIMER_RELOAD = MPS2_SYSCLK_HZ / 1000u - 1u;
    TIMER_VALUE = MPS2_SYSCLK_HZ / 1000u - 1u;
    TIMER_CTRL = TIMER_CTRL_ENABLE;
}
