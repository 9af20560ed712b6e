// The STM32F4/F7 ETH driver's register logic, in plain C (no MicroPython):
// descriptor rings on pool blocks, RX refill-before-handoff, TX
// scatter-gather, interrupt status handling, recovery by soft reset, MDIO.
// mod_stm32_eth.c is the thin MicroPython binding around it; eth_phy.c the
// PHY layer. Every register and descriptor access goes through zcdma_rd32 /
// zcdma_wr32 (drivers/dma): volatile accesses on a board, the simulated bus
// and the behavioural model (model/) on the unix build.
#ifndef ETH_CORE_H
#define ETH_CORE_H

#include <stdint.h>

#include "zcdma.h"
#include "zcpool.h"
#include "stm32_eth_regs.h"

#define ETH_MAX_SEG        (16)            // gather entries per frame
#define ETH_RX_MAX         (ZCPOOL_BLOCK_SIZE - ZCPOOL_FRAME_OFFSET)   // 1598: a frame that fills a block
#define ETH_RX_RBS         (ETH_RX_MAX & ~3u)   // 1596: RBS must be a multiple of 4
#define ETH_TX_MIN         (14)
#define ETH_TX_MAX         (ETH_RX_MAX)
#define ETH_RESET_WAIT     (100000)        // DMABMR.SR reads before giving up (REF_CLK missing)
#define ETH_MDIO_WAIT      (100000)        // MACMIIAR.MB reads per MDIO transaction

// RX flags handed up with a frame (the driver contract).
#define ETH_RXF_CSUM_OK    (1)
#define ETH_RXF_CSUM_BAD   (2)

// Cache maintenance: compiled in on a Cortex-M7 configuration; a run-time
// choice on the unix build (cache="none"|"maint") so both are tested.
#if ZCDMA_HOST
#define ETH_CACHE_MAINT(e) ((e)->cache_maint)
#else
#define ETH_CACHE_MAINT(e) ((void)(e), ZCDMA_CACHE != ZCDMA_CACHE_NONE)
#endif

typedef struct {
    uint8_t *ptr;
    zcdma_addr_t bus;
    uint16_t len;
    int16_t blk;                   // pool block the frame holds a reference on, or -1
} eth_seg_t;

enum { ETH_TXF_QUEUED = 0, ETH_TXF_POSTED, ETH_TXF_CANCELLED, ETH_TXF_FAILED };

typedef struct {
    int32_t cookie;
    uint16_t first, ndesc;         // descriptors, once posted
    uint16_t len;
    uint8_t nseg, state;
    uint8_t need;                  // descriptors it reserved
    uint8_t cic;
    eth_seg_t seg[ETH_MAX_SEG];
} eth_txf_t;

#define ETH_STATS(X) \
    X(rx_frames) X(rx_bytes) X(rx_no_buffer) X(rx_oversize) X(rx_errors) \
    X(tx_frames) X(tx_bytes) X(tx_ring_full) X(tx_errors) X(tx_ref_moved) \
    X(rx_copied_bytes) X(tx_copied_bytes) \
    X(rx_crc_errors) X(rx_truncated) X(rx_missed) X(rx_fifo_overflow) \
    X(rx_csum_ok) X(rx_csum_bad) X(tx_csum_offload) X(tx_csum_left_zero) X(tx_csum_bypass_frag) \
    X(rbus) X(tbus_resume) X(rx_poll_demands) X(tx_poll_demands) \
    X(fatal_bus_errors) X(dma_stuck) X(resets) X(reset_timeouts) \
    X(link_changes) X(mdio_timeouts) X(irqs)

typedef struct {
    #define ETH_STAT_FIELD(n) uint32_t n;
    ETH_STATS(ETH_STAT_FIELD)
    #undef ETH_STAT_FIELD
} eth_stats_t;
extern const char *const eth_stat_names[];
#define ETH_NSTATS (sizeof(eth_stats_t) / sizeof(uint32_t))

typedef struct {
    uint8_t addr;
    uint8_t state;
    uint8_t up, full;
    uint16_t speed;
    uint16_t tries;
    uint32_t id;
} eth_phy_t;

typedef struct eth_dev {
    zcdma_addr_t base;             // register window (bus address)
    // configuration
    uint8_t enhanced, chained, dsl, cache_maint, pad, promisc, rx_csum, tx_csum;
    uint8_t mac[6];
    uint32_t stride;               // bytes from one descriptor to the next
    // RX ring: slot i's descriptor at rx_bus + i * stride, its block rx_blk[i] (-1: none)
    zcdma_addr_t rx_bus;
    int16_t *rx_blk;
    uint16_t rx_n, rx_head, rx_missing;
    // TX: frame slots [tx_head, tx_head + tx_count), the first tx_posted handed over
    zcdma_addr_t tx_bus;
    eth_txf_t *txf;
    uint16_t tx_n, tx_head, tx_count, tx_posted;
    uint16_t tx_ndesc, tx_dnext, tx_dused, tx_dresv;
    // interrupt status the ISR acknowledged, for the poll step
    uint32_t events;
    uint8_t rx_sched, tx_sched, fatal, dead;
    uint32_t ier;                  // DMAIER as programmed
    eth_phy_t phy;
    eth_stats_t st;
} eth_dev_t;

// Bring the MAC up: soft reset, rings, registers, DMA started, PHY reset
// started (non-blocking). The rings' memory and slot tables belong to the
// caller (descriptor memory must be DMA-reachable and, with cache
// maintenance, non-cacheable). Returns 0, or -1 when DMABMR.SR never cleared.
int eth_init(eth_dev_t *e);
// Stop both engines and the MAC (no block is freed: eth_release does that).
void eth_stop(eth_dev_t *e);
// Give back every posted RX block and every TX frame's references.
void eth_release(eth_dev_t *e);

// The ISR's work: acknowledge DMASR (write 1 to clear), record what needs
// the poll step, recover from a fatal bus error. Returns the bits acknowledged.
uint32_t eth_service(eth_dev_t *e);
// Post blocks into RX slots that have none (host-owned descriptors only).
int eth_rx_refill(eth_dev_t *e);
// Up to budget frames into out[3k..3k+2] = (block, length, flags).
int eth_rx_poll(eth_dev_t *e, int budget, int32_t *out);
// A completed RX descriptor waits at the head (more work for rx_poll).
int eth_rx_pending(eth_dev_t *e);

// Descriptors a frame of these segments needs (zero-length ones skipped).
unsigned eth_tx_need(const eth_dev_t *e, const eth_seg_t *seg, unsigned nseg);
// Frames tx() would accept now.
unsigned eth_tx_room(const eth_dev_t *e);
// Queue one frame (the references in seg are the frame's now). Returns the
// slot, or -1 when the ring is full (nothing taken; counted tx_ring_full).
int eth_tx_queue(eth_dev_t *e, const eth_seg_t *seg, unsigned nseg, int32_t cookie);
// Hand the queued frames to the DMA (cancelled ones complete unsent).
void eth_tx_kick(eth_dev_t *e);
// The oldest finished frame: its slot (references already dropped, cookie
// in *cookie), or -1.
int eth_tx_reap_one(eth_dev_t *e, int32_t *cookie);

// MDIO (Clause 22). Return 0, or -1 on a timeout (counted).
int eth_mdio_read(eth_dev_t *e, unsigned pa, unsigned reg, uint16_t *val);
int eth_mdio_write(eth_dev_t *e, unsigned pa, unsigned reg, uint16_t val);
// Apply the PHY's speed/duplex to MACCR.
void eth_mac_link(eth_dev_t *e);

// Register read/write at an offset of the window.
static inline uint32_t eth_rd(const eth_dev_t *e, uint32_t off) {
    return zcdma_rd32(e->base + off);
}
static inline void eth_wr(const eth_dev_t *e, uint32_t off, uint32_t v) {
    zcdma_wr32(e->base + off, v);
}

#endif
