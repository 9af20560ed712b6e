// LAN8742A: reset, autonegotiation, link/speed/duplex from PHYSCSR. See eth_phy.h.
#include "eth_phy.h"

#define PHY_RESET_TRIES (1000)     // polls for BMCR.RESET to clear (datasheet: < 0.5 s)

void eth_phy_start(eth_dev_t *e, unsigned addr) {
    eth_phy_t *p = &e->phy;
    uint16_t id1 = 0, id2 = 0;
    p->addr = (uint8_t)addr;
    p->up = 0;
    p->speed = 0;
    p->full = 0;
    p->tries = 0;
    if (eth_mdio_read(e, addr, PHY_ID1, &id1) || eth_mdio_read(e, addr, PHY_ID2, &id2)) {
        p->state = ETH_PHY_ABSENT;
        return;
    }
    p->id = ((uint32_t)id1 << 16) | id2;
    if ((p->id & PHY_LAN8742A_ID_MASK) != PHY_LAN8742A_ID) {
        p->state = ETH_PHY_ABSENT;  // another PHY: this layer does not drive it
        return;
    }
    eth_mdio_write(e, addr, PHY_BMCR, PHY_BMCR_RESET);
    p->state = ETH_PHY_RESET;
}

int eth_phy_poll(eth_dev_t *e) {
    eth_phy_t *p = &e->phy;
    uint16_t v = 0;
    switch (p->state) {
        case ETH_PHY_RESET:
            if (eth_mdio_read(e, p->addr, PHY_BMCR, &v)) {
                return 0;
            }
            if (v & PHY_BMCR_RESET) {
                if (++p->tries > PHY_RESET_TRIES) {
                    p->state = ETH_PHY_ABSENT;
                }
                return 0;
            }
            eth_mdio_write(e, p->addr, PHY_BMCR, PHY_BMCR_ANEN | PHY_BMCR_ANRESTART);
            p->state = ETH_PHY_AN;
            return 0;
        case ETH_PHY_AN:
            if (eth_mdio_read(e, p->addr, PHY_BMSR, &v)) {
                return 0;
            }
            if ((v & (PHY_BMSR_LINK | PHY_BMSR_ANDONE)) != (PHY_BMSR_LINK | PHY_BMSR_ANDONE)) {
                return 0;
            }
            if (eth_mdio_read(e, p->addr, PHY_PHYSCSR, &v) || !(v & PHY_PHYSCSR_AUTODONE)) {
                return 0;
            }
            switch ((v & PHY_PHYSCSR_SPEED_MASK) >> PHY_PHYSCSR_SPEED_SHIFT) {
                case 1: p->speed = 10; p->full = 0; break;
                case 5: p->speed = 10; p->full = 1; break;
                case 2: p->speed = 100; p->full = 0; break;
                case 6: p->speed = 100; p->full = 1; break;
                default: return 0;  // not resolved yet
            }
            p->up = 1;
            p->state = ETH_PHY_UP;
            eth_mac_link(e);
            return 1;
        case ETH_PHY_UP:
            // BMSR's link bit latches low: one read sees any drop since the last
            if (eth_mdio_read(e, p->addr, PHY_BMSR, &v) || (v & PHY_BMSR_LINK)) {
                return 0;
            }
            p->up = 0;
            p->state = ETH_PHY_AN;  // autonegotiation runs again by itself
            return 1;
        default:
            return 0;
    }
}
