// c6747_model: behavioural model of the C6747 / OMAP-L137 EMAC, its CPPI 3.0
// DMA and the MDIO with a PHY behind it, from SPRUFL5 (unix build only).
//
// It sits on the simulated bus (drivers/dma/zcdma.h) as one register window
// covering CPPI RAM (its own memory: descriptors are read and written there),
// the control module, the EMAC and the MDIO. Its DMA reaches buffers only
// through zcdma_to_host(); NULL there is a host error. It walks descriptors
// from HDP, honours SOP/EOP/OWNER, writes lengths, offsets and flags back,
// sets EOQ and halts at a NULL next pointer. A packet completes in two steps
// (the EMAC reads the EOP's next pointer, then writes the flags back), so
// with race set the driver's append can fall between them: both the
// misqueued restart and the requeue at completion really happen.
#ifndef C6747_MODEL_H
#define C6747_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "zcdma.h"
#include "zcmodel.h"
#include "c6747_regs.h"

enum { C6747M_PHY_NONE = 0, C6747M_PHY_KSZ8893 = 1, C6747M_PHY_LAN8710A = 2 };

enum {
    C6747M_TX_PACKETS, C6747M_TX_BYTES, C6747M_TX_DESCS, C6747M_RX_PACKETS, C6747M_RX_BYTES,
    C6747M_RX_DESCS, C6747M_RX_FILTERED, C6747M_RX_NO_DESC, C6747M_RX_SHORT_CHAIN,
    C6747M_RX_LINK_DOWN, C6747M_TX_NO_CARRIER, C6747M_RX_ERROR_FRAMES, C6747M_HOST_ERRORS,
    C6747M_BUS_ERRORS, C6747M_HDP_WHILE_ACTIVE, C6747M_BAD_CHANNEL, C6747M_TX_EOQ, C6747M_RX_EOQ,
    C6747M_TX_TEARDOWNS, C6747M_RX_TEARDOWNS, C6747M_TDOWN_MARKED, C6747M_EOI_WRITES, C6747M_PULSES,
    C6747M_SOFT_RESETS, C6747M_MDIO_ACCESSES, C6747M_WIRE_ERRORS, C6747M_STEPS,
    C6747M_LINK_DOWNS, C6747M_TX_MIN_LEN, C6747M_TX_MAX_DESCS, C6747M_TX_UNCLEAN, C6747M_RX_UNINVALIDATED,
    C6747M_NSTATS
};
extern const char *const c6747m_stat_names[C6747M_NSTATS];

// Cache discipline: the driver's recent clean / invalidate calls (bus ranges).
#define C6747M_NCACHE (4096)
typedef struct {
    uint32_t a, len;
} c6747m_range_t;

typedef struct {
    int pending;
    uint32_t sop, last, next, pktlen, flags;
} c6747m_wb_t;

typedef struct c6747_model {
    zcdma_addr_t base;
    uint8_t cppi[C6747_CPPI_RAM_SIZE];
    uint32_t ctrl[0x100 / 4];
    uint32_t emac[0x1000 / 4];
    uint32_t mdio[0x100 / 4];
    uint32_t addr_hi[C6747_NMACADDR], addr_lo[C6747_NMACADDR], addr_hi_w;
    uint32_t stats[(EMAC_STATS_LAST - EMAC_STATS_FIRST) / 4 + 1];
    // channel 0 each way
    uint32_t tx_hdp, rx_hdp, tx_cp, rx_cp;   // CP: the last completed descriptor
    uint8_t tx_intpend, rx_intpend;         // completions not yet acknowledged
    uint8_t tx_active, rx_active, tx_tdown, rx_tdown;
    uint32_t txmask, rxmask, macmask;
    c6747m_wb_t tx_wb, rx_wb;
    uint32_t macstatus;
    uint8_t host_error;
    uint8_t reset_busy, ctrl_reset_busy;
    uint8_t armed[4];
    uint8_t latched;
    uint8_t turn;
    uint8_t hold;                  // test control: the DMA makes no progress
    // the wire side
    zcm_wire_t wire;
    zcm_faults_t faults;
    zcm_irq_t irq;
    int wire_open, irq_open;
    uint8_t rx_frame[ZCM_FRAME_MAX];
    int rx_held;                   // a frame taken from the wire, waiting for descriptors
    uint32_t rx_held_flags;
    uint8_t tx_frame[ZCM_FRAME_MAX];
    // MDIO and the PHY
    int phy_kind;
    unsigned phy_addr;
    uint8_t link_up, link_forced_down, bmsr_low, speed100, full;
    uint32_t link_down_left;
    uint16_t bmcr;
    int go_busy;
    uint32_t ua0;
    c6747m_range_t cleaned[C6747M_NCACHE], invaled[C6747M_NCACHE];
    uint32_t ncleaned, ninvaled;
    uint32_t st[C6747M_NSTATS];
} c6747_model_t;

// tap_name NULL: the in-memory queue wire of queue_depth frames. Returns NULL
// with *err = -errno on failure.
c6747_model_t *c6747_model_new(const char *tap_name, int attach, unsigned queue_depth, uint64_t seed,
    int phy_kind, int *err, char *name_out, size_t name_len);
void c6747_model_free(c6747_model_t *m);
// Close the DMA side (interrupt fds, TAP); the queue wire stays readable.
void c6747_model_shutdown(c6747_model_t *m);
// Advance the DMA by at most max_steps units; returns the steps that did work.
unsigned c6747_model_run(c6747_model_t *m, unsigned max_steps);
// True (and cleared) when an interrupt pulse fired since the last call.
int c6747_model_irq_take(c6747_model_t *m);
// Drive the interrupt eventfd: asserted while an interrupt is pending or
// the DMA has work (extra: the driver's own pending work).
void c6747_model_update_line(c6747_model_t *m, int extra);
void c6747_model_link_set(c6747_model_t *m, int up);
int c6747_model_fd(const c6747_model_t *m);

#endif
