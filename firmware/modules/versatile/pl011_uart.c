// The console of the VERSATILEPB firmware: UART0 of the Versatile/PB board,
// an ARM PrimeCell PL011 at 0x101F1000, polled. Implements the three calls
// of MicroPython's ports/qemu/uart.h (that port's uart.c has no PL011 and
// compiles to nothing when no QEMU_SOC_* is defined, as on this board).
#include <stddef.h>
#include <stdint.h>

#include "uart.h"

#define PL011_BASE   (0x101f1000u)
#define PL011_DR     (*(volatile uint32_t *)(PL011_BASE + 0x00u))
#define PL011_FR     (*(volatile uint32_t *)(PL011_BASE + 0x18u))
#define PL011_LCR_H  (*(volatile uint32_t *)(PL011_BASE + 0x2cu))
#define PL011_CR     (*(volatile uint32_t *)(PL011_BASE + 0x30u))

#define FR_RXFE      (1u << 4)   // receive FIFO empty
#define FR_TXFF      (1u << 5)   // transmit FIFO full
#define LCR_H_FEN    (1u << 4)   // FIFOs on
#define LCR_H_WLEN8  (3u << 5)   // 8 data bits
#define CR_UARTEN    (1u << 0)
#define CR_TXE       (1u << 8)
#define CR_RXE       (1u << 9)

void uart_init(void) {
    PL011_CR = 0;
    PL011_LCR_H = LCR_H_WLEN8 | LCR_H_FEN;
    PL011_CR = CR_UARTEN | CR_TXE | CR_RXE;
}

int uart_rx_chr(void) {
    if (PL011_FR & FR_RXFE) {
        return UART_RX_NO_CHAR;
    }
    return (int)(PL011_DR & 0xffu);
}

void uart_tx_strn(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (PL011_FR & FR_TXFF) {
        }
        PL011_DR = (uint8_t)buf[i];
    }
}
