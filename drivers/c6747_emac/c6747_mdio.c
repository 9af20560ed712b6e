// MDIO of the C6747 / OMAP-L137 EMAC: clause-22 access through USERACCESS0
// (wait GO=0, write the command, wait GO=0; a read counts only with ACK).
#include "c6747_emac.h"

#define MDIO_SPINS (20000u)

void c6747_mdio_init(zcdma_addr_t mdio, uint16_t clkdiv) {
    // MDC = input clock / (CLKDIV + 1); FAULT is write-1-to-clear.
    zcdma_wr32(mdio + MDIO_CONTROL, MDIO_CONTROL_ENABLE | MDIO_CONTROL_FAULT | (clkdiv & MDIO_CONTROL_CLKDIV_MASK));
}

static int mdio_idle(zcdma_addr_t mdio) {
    for (uint32_t i = 0; i < MDIO_SPINS; i++) {
        if ((zcdma_rd32(mdio + MDIO_USERACCESS0) & USERACCESS_GO) == 0) {
            return 0;
        }
    }
    return -2;
}

int32_t c6747_mdio_read(zcdma_addr_t mdio, unsigned phy, unsigned reg) {
    if (mdio_idle(mdio)) {
        return -2;
    }
    zcdma_wr32(mdio + MDIO_USERACCESS0, USERACCESS_GO | (reg & 31u) << USERACCESS_REGADR_SHIFT
        | (phy & 31u) << USERACCESS_PHYADR_SHIFT);
    if (mdio_idle(mdio)) {
        return -2;
    }
    uint32_t v = zcdma_rd32(mdio + MDIO_USERACCESS0);
    if (!(v & USERACCESS_ACK)) {
        return -1;
    }
    return (int32_t)(v & USERACCESS_DATA_MASK);
}

int c6747_mdio_write(zcdma_addr_t mdio, unsigned phy, unsigned reg, uint16_t val) {
    if (mdio_idle(mdio)) {
        return -2;
    }
    zcdma_wr32(mdio + MDIO_USERACCESS0, USERACCESS_GO | USERACCESS_WRITE | (reg & 31u) << USERACCESS_REGADR_SHIFT
        | (phy & 31u) << USERACCESS_PHYADR_SHIFT | val);
    return mdio_idle(mdio);
}
