// The PHY layer: what sits on the EMAC's RMII. The C6747 / OMAP-L137 EVM
// has a Micrel KSZ8893MQL 3-port switch (the EMAC's port to it is a fixed
// 100 Mb/s full-duplex link, as Linux treats it; the same when no PHY
// answers at all), OMAP-L138 / AM1808 boards an SMSC LAN8710A (link from
// BMSR, speed and duplex from its special control/status register 31).
#include "c6747_emac.h"

static void count_mdio(c6747_emac_t *e, int32_t r) {
    if (r == -2) {
        e->st[C6747_ST_MDIO_TIMEOUTS]++;
    } else if (r == -1) {
        e->st[C6747_ST_MDIO_NACKS]++;
    }
}

void c6747_phy_probe(c6747_emac_t *e) {
    zcdma_addr_t mdio = e->base + C6747_MDIO_OFF;
    e->phy_kind = C6747_PHY_FIXED;
    e->phy_addr = 0;
    // ALIVE fills in as the MDIO state machine polls every address.
    uint32_t alive = 0;
    for (unsigned i = 0; i < 1000u && alive == 0; i++) {
        alive = zcdma_rd32(mdio + MDIO_ALIVE);
    }
    for (unsigned a = 0; a < 32; a++) {
        if (!(alive & (1u << a))) {
            continue;
        }
        int32_t id1 = c6747_mdio_read(mdio, a, PHY_PHYID1);
        int32_t id2 = c6747_mdio_read(mdio, a, PHY_PHYID2);
        if (id1 < 0 || id2 < 0) {
            count_mdio(e, id1 < 0 ? id1 : id2);
            continue;
        }
        if ((uint32_t)id1 == LAN8710A_PHYID1 && ((uint32_t)id2 & 0xFFF0u) == LAN8710A_PHYID2) {
            e->phy_kind = C6747_PHY_LAN8710A;
            e->phy_addr = (uint8_t)a;
            // Autonegotiation runs on its own; link() sees its result.
            (void)c6747_mdio_write(mdio, a, PHY_BMCR, BMCR_ANEN | BMCR_ANRESTART);
            return;
        }
        if ((uint32_t)id1 == KSZ8893_PHYID1 && ((uint32_t)id2 & 0xFFF0u) == KSZ8893_PHYID2) {
            e->phy_kind = C6747_PHY_KSZ8893;
            e->phy_addr = (uint8_t)a;
            return;
        }
    }
}

void c6747_phy_status(c6747_emac_t *e, int *up, int *speed, int *full) {
    *up = 1;
    *speed = 100;
    *full = 1;
    if (e->phy_kind != C6747_PHY_LAN8710A) {
        return;                              // switch port or no PHY: fixed 100/full
    }
    zcdma_addr_t mdio = e->base + C6747_MDIO_OFF;
    (void)c6747_mdio_read(mdio, e->phy_addr, PHY_BMSR);     // BMSR link is latched low
    int32_t bmsr = c6747_mdio_read(mdio, e->phy_addr, PHY_BMSR);
    int32_t ps = c6747_mdio_read(mdio, e->phy_addr, LAN8710A_PSCSR);
    if (bmsr < 0 || ps < 0) {
        count_mdio(e, bmsr < 0 ? bmsr : ps);
        *up = 0;
        return;
    }
    *up = (bmsr & BMSR_LINK) && (bmsr & BMSR_ANCOMPLETE);
    unsigned code = ((uint32_t)ps & LAN8710A_PSCSR_SPEED_MASK) >> LAN8710A_PSCSR_SPEED_SHIFT;
    *speed = (code & 2u) ? 100 : 10;
    *full = (code & 4u) ? 1 : 0;
}
