// stm32_eth_model: a register- and descriptor-level behavioural model of the
// STM32F4/F7 Ethernet MAC + DMA (Synopsys DWC GMAC 3.x) and of the LAN8742A
// PHY behind its MDIO, for the unix build only (ZCDMA_HOST). Written from the
// reference-manual facts in shared/hw/stm32_eth.md; where the Renode model is
// known to differ from the hardware (shared/hw/drivers_survey.md), this one
// does what the hardware does.
//
// The driver reaches the model only through the simulated bus of drivers/dma
// (zcdma_rd32/zcdma_wr32 on the register window); the model reaches memory
// only through zcdma_to_host() and raises a fatal bus error (DMASR.FBES +
// EBS, both DMA engines stop) when that fails. The wire, the seeded faults and
// the interrupt line come from drivers/dma/zcmodel.h.
#ifndef STM32_ETH_MODEL_H
#define STM32_ETH_MODEL_H

#include <stdint.h>

#include "zcdma.h"
#include "zcmodel.h"

// The model's own counters (model_stats()): hardware counters as a test
// sees them, plus checks on the driver's discipline (cache maintenance,
// descriptor rules) that real hardware would answer with corrupted data.
#define STM32M_STATS(X) \
    X(rx_frames)          /* frames written to descriptors (FS..LS, no DE) */ \
    X(rx_bytes) \
    X(rx_missed)          /* MFC: discarded, no descriptor owned by the DMA (total) */ \
    X(rx_fifo_overflow)   /* MFA: lost to a FIFO overflow (total) */ \
    X(rx_truncated)       /* DE: ran out of descriptors mid-frame */ \
    X(rx_crc_errors)      /* MMCRFCECR increments */ \
    X(rx_error_dropped)   /* error frames dropped in the FIFO (FEF=0) */ \
    X(rx_csum_dropped)    /* checksum-error frames dropped (DTCEFD=0) */ \
    X(rx_filtered)        /* failed the address filter */ \
    X(rx_runt)            /* shorter than 60 bytes, FUGF=0 */ \
    X(rx_link_down)       /* lost: link down or MACCR.RE clear */ \
    X(rx_wire_drop)       /* rx_drop fault */ \
    X(tx_frames)          /* put on the wire */ \
    X(tx_bytes) \
    X(tx_padded) \
    X(tx_link_down)       /* transmitted into a dead link */ \
    X(tx_wire_drop)       /* tx_drop fault */ \
    X(tx_cic_frames)      /* frames with checksums inserted */ \
    X(cic_fragment)       /* CIC payload insertion on an IPv4 fragment (erratum: corrupts it) */ \
    X(rbus) X(tbus)       /* suspensions */ \
    X(bus_errors)         /* FBES raised */ \
    X(soft_resets) \
    X(mdio_reads) X(mdio_writes) \
    X(phy_resets) X(link_ups) X(link_downs) \
    X(tx_unclean)         /* maint: DMA read a TX buffer no clean covered */ \
    X(rx_unarmed)         /* maint: DMA wrote an RX buffer not invalidated since its last write */ \
    X(rbs_not_mult4)      /* a receive buffer size that is not a multiple of 4 (undefined on hardware) */ \
    X(desc_unaligned)     /* a descriptor list base not word aligned */ \
    X(tx_no_fs)           /* a TX frame whose first descriptor lacked FS */ \
    X(dsl_nonzero_ring)   /* frames through a ring with DSL > 0 (skipped words honoured) */

typedef struct {
    #define STM32M_FIELD(n) uint32_t n;
    STM32M_STATS(STM32M_FIELD)
    #undef STM32M_FIELD
} stm32m_stats_t;

extern const char *const stm32m_stat_names[];
#define STM32M_NSTATS (sizeof(stm32m_stats_t) / sizeof(uint32_t))

typedef struct stm32m stm32m_t;

// Create a model attached to the simulated bus (register window at or above
// ETH_BASE; *base_out is where). wire_tap: 1 a TAP named tap (attach: an
// existing one), 0 in-memory queues of queue_depth frames. Returns NULL with
// *err = errno on failure.
stm32m_t *stm32m_open(int wire_tap, const char *tap, int attach, unsigned queue_depth,
    uint64_t seed, zcdma_addr_t *base_out, int *err);
void stm32m_close(stm32m_t *m);
// The TAP's name (wire_tap), else "".
const char *stm32m_tap_name(stm32m_t *m);
// Let the DMA engines and the PHY run "in the background": step until
// nothing moves (bounded). Returns the number of units of work done.
int stm32m_run(stm32m_t *m);
// One unit of work (the bus calls it at seeded race points too).
void stm32m_step(void *dev);
// The interrupt output: (NIS and NISE) or (AIS and AISE).
int stm32m_irq_line(stm32m_t *m);
// Frames waiting on the wire towards the MAC (queue wire), for readiness.
unsigned stm32m_wire_pending(stm32m_t *m);
// The fd select.poll waits on (epoll over the interrupt eventfd and the TAP).
int stm32m_fileno(stm32m_t *m);
// Drive the eventfd: asserted while `line`.
void stm32m_irq_set(stm32m_t *m, int line);

// Test controls.
int stm32m_inject(stm32m_t *m, const uint8_t *buf, size_t len);
int stm32m_take(stm32m_t *m, uint8_t *buf, size_t max);
zcm_faults_t *stm32m_faults(stm32m_t *m);
void stm32m_link_set(stm32m_t *m, int up);
// Cache-discipline checks on (maint configuration) or off.
void stm32m_cache_checks(stm32m_t *m, int on);
// DMABMR.SR never clears (REF_CLK missing): the driver's wait must be bounded.
void stm32m_reset_stuck(stm32m_t *m, int stuck);
// A register read/write straight into the model (not through the bus: no
// race step), for tests of the model's own register semantics and to stage
// a glitch (a DMA stopped behind the driver's back).
uint32_t stm32m_reg_read(stm32m_t *m, uint32_t off);
void stm32m_reg_write(stm32m_t *m, uint32_t off, uint32_t v);
// The next n writes to DMATPDR are lost (a doorbell that came while the DMA
// was fetching the descriptor, before OWN was visible: a missed wake-up).
void stm32m_lose_tx_demands(stm32m_t *m, unsigned n);
const stm32m_stats_t *stm32m_stats(stm32m_t *m);
uint32_t stm32m_mmc(stm32m_t *m, uint32_t off);

#endif
