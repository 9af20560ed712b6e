// The PHY layer of the STM32 ETH driver: LAN8742A (NUCLEO-F767ZI) over MDIO.
// Non-blocking: eth_phy_start() resets the PHY, every eth_phy_poll() does one
// step (a few MDIO transactions) of reset -> autonegotiation -> link up ->
// link down -> autonegotiation ...; progress shows in e->phy (link()).
// A new PHY is a new file with these two functions.
#ifndef ETH_PHY_H
#define ETH_PHY_H

#include "eth_core.h"

enum { ETH_PHY_ABSENT = 0, ETH_PHY_RESET, ETH_PHY_AN, ETH_PHY_UP };

void eth_phy_start(eth_dev_t *e, unsigned addr);
// One step; returns 1 when the link went up or down (MACCR follows it).
int eth_phy_poll(eth_dev_t *e);

#endif
