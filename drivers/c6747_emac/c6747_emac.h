// c6747_emac: the portable core of the TMS320C6747 / OMAP-L137 EMAC driver
// (CPPI 3.0 descriptors in the EMAC's 8 KB CPPI RAM). MicroPython-free C99,
// <stdint.h> types only (TI's COFF ABI has a 40-bit long: never `long`).
// Registers and descriptors are reached only through zcdma_rd32/zcdma_wr32,
// so the same source runs on a board and against the unix model; blocks come
// from the real pool (drivers/pool/zcpool.h).
//
// Use (every call from one thread; the ISR only acknowledges and schedules):
//   c6747_emac_init(e, base, &cfg)       reset, descriptors, filters, PHY probe
//   c6747_emac_isr(e)                    from the interrupt: read MACINVECTOR
//   c6747_emac_rx_poll(e, budget, out)   up to budget (block, len, flags) triples
//   c6747_emac_tx(e, segs, n, cookie)    queue one frame (>= 0: its slot)
//   c6747_emac_tx_kick(e, check, ctx)    hand queued frames to the EMAC
//   c6747_emac_tx_reap(e, cookies, slots, max)  finished frames, in order
//   c6747_emac_link(e, &up, &speed, &full)      poll the PHY
//   c6747_emac_close(e)                  teardown: every descriptor and block back
#ifndef C6747_EMAC_H
#define C6747_EMAC_H

#include <stdint.h>
#include "zcdma.h"
#include "c6747_regs.h"

#define C6747_MAX_SEG        (16)                  // gather entries per frame
#define C6747_DESC_PER_FRAME (C6747_MAX_SEG + 1)   // + the padding descriptor
#define C6747_NDESC          (C6747_CPPI_RAM_SIZE / DESC_SIZE)   // 512
#define C6747_MAX_RX         (256)
#define C6747_MAX_TX         (128)                 // frame slots
#define C6747_ETH_ZLEN       (60)                  // minimum frame without CRC
#define C6747_TX_MIN         (14)
#define C6747_RX_BUF         (1598)                // block size - frame offset

enum { C6747_PHY_FIXED = 0, C6747_PHY_KSZ8893 = 1, C6747_PHY_LAN8710A = 2 };

// Counters: the shared driver names first, then the EMAC's own.
enum {
    C6747_ST_RX_FRAMES, C6747_ST_RX_BYTES, C6747_ST_RX_NO_BUFFER, C6747_ST_RX_OVERSIZE,
    C6747_ST_RX_ERRORS, C6747_ST_TX_FRAMES, C6747_ST_TX_BYTES, C6747_ST_TX_RING_FULL,
    C6747_ST_TX_ERRORS, C6747_ST_TX_REF_MOVED, C6747_ST_RX_COPIED_BYTES, C6747_ST_TX_COPIED_BYTES,
    C6747_ST_RX_CRC_ERRORS, C6747_ST_RX_ALIGN_ERRORS, C6747_ST_RX_OVERRUNS, C6747_ST_RX_SOF_OVERRUNS,
    C6747_ST_RX_MOF_OVERRUNS, C6747_ST_RX_DMA_OVERRUNS, C6747_ST_RX_MULTI_DESC,
    C6747_ST_RX_RESTARTS, C6747_ST_RX_REQUEUES, C6747_ST_TX_RESTARTS, C6747_ST_TX_REQUEUES,
    C6747_ST_TX_DESC_FULL, C6747_ST_TX_PAD_FRAMES, C6747_ST_TX_PAD_BYTES, C6747_ST_TX_ZERO_SEGS,
    C6747_ST_TX_TEARDOWN_DROPPED, C6747_ST_HOST_ERRORS, C6747_ST_RECOVERIES, C6747_ST_RECOVERED_TX,
    C6747_ST_TEARDOWNS, C6747_ST_TEARDOWN_TIMEOUTS, C6747_ST_IRQS, C6747_ST_LINK_CHANGES,
    C6747_ST_MDIO_TIMEOUTS, C6747_ST_MDIO_NACKS,
    C6747_NSTATS
};
extern const char *const c6747_stat_names[C6747_NSTATS];

typedef struct {
    uint8_t mac[6];              // MACADDR entry 0 and the pause-frame source address
    uint8_t nextra;              // more unicast addresses, MACADDR entries 1..7
    uint8_t extra[C6747_NMACADDR - 1][6];
    uint16_t rx_n;               // RX descriptors, one pool block each (1..C6747_MAX_RX)
    uint16_t tx_n;               // TX frame slots (1..C6747_MAX_TX)
    uint16_t tx_desc;            // TX descriptors (0: min(tx_n * 17, what RX left))
    uint16_t rx_maxlen;          // RXMAXLEN, CRC included (0: 1518)
    uint16_t pad;                // pad shorter frames to this (ETH_ZLEN 60; 0: never)
    uint8_t promisc;             // RXCAFEN: every frame
    uint8_t no_broadcast;        // RXBROADEN off
    uint8_t no_error_frames;     // RXCEFEN off: the MAC filters error frames itself
    uint32_t hash1, hash2;       // MACHASH1/2 (multicast; c6747_emac_hash_add)
    uint16_t mdio_clkdiv;        // MDIO CONTROL.CLKDIV (0: 149, 1 MHz from 150 MHz)
} c6747_cfg_t;

// One gather piece of a TX frame: bytes at `ptr` (bus address `bus`), and
// the pool block (or -1) on which the caller gave the core one reference.
typedef struct {
    const uint8_t *ptr;
    zcdma_addr_t bus;
    uint16_t len;
    int16_t blk;
} c6747_seg_t;

enum { TXF_FREE = 0, TXF_QUEUED, TXF_HW, TXF_DONE };

typedef struct {
    int32_t cookie;
    uint16_t len;                // frame length as given (before padding)
    int16_t first;               // first TX descriptor (index in the TX area), -1: none
    uint8_t ndesc;
    uint8_t nblk;
    uint8_t state;
    uint8_t ok;                  // DONE: 1 sent, 0 not
    int16_t blk[C6747_MAX_SEG];
} c6747_txf_t;

typedef struct c6747_emac {
    zcdma_addr_t base;           // CPPI RAM bus address; the register blocks follow
    c6747_cfg_t cfg;
    uint8_t open;
    uint8_t host_error;          // seen by the ISR, recovered in the poll step
    uint8_t phy_kind, phy_addr;
    uint8_t link_up, link_full;
    uint16_t link_speed;
    uint32_t maccontrol;
    zcdma_addr_t pad_bus;        // the static zero buffer padding points at
    // RX: descriptors 0..rx_n-1; the hardware queue in submission order
    int16_t rx_blk[C6747_MAX_RX];
    uint16_t rx_q[C6747_MAX_RX];
    uint16_t rx_qhead, rx_qcount;
    uint16_t rx_park[C6747_MAX_RX];  // descriptors without a block
    uint16_t rx_npark;
    // TX: descriptors rx_n .. rx_n+tx_desc-1 used as a ring, frames in slots
    uint16_t tx_d0, tx_dn;       // first TX descriptor, how many
    uint16_t tx_dhead, tx_dused;
    c6747_txf_t tx[C6747_MAX_TX];
    uint16_t tx_head, tx_count;  // frames [head, head+count) in use, in order
    int16_t tx_hw_tail;          // slot of the last frame on the hardware queue, -1: none
    uint32_t st[C6747_NSTATS];
} c6747_emac_t;

// Returns 0, or a negative errno-style code (-22 bad config, -5 reset timed out).
int c6747_emac_init(c6747_emac_t *e, zcdma_addr_t base, const c6747_cfg_t *cfg);
// Interrupt service: acknowledge and schedule only. Returns MACINVECTOR.
uint32_t c6747_emac_isr(c6747_emac_t *e);
// Host error recovery when one was seen (also done by rx_poll/tx_reap).
void c6747_emac_service(c6747_emac_t *e);
// Up to `budget` frames: out[3k] block (now held H_RX), out[3k+1] length,
// out[3k+2] flags. Every descriptor is refilled (or recycled) first.
int c6747_emac_rx_poll(c6747_emac_t *e, int budget, int32_t *out);
// Queue one frame of n pieces (zero-length pieces skipped). On success (the
// slot, >= 0) the core owns one reference per piece with blk >= 0; on
// failure (-105 ENOBUFS: no slot or too few descriptors; -22: bad frame)
// nothing is taken.
int c6747_emac_tx(c6747_emac_t *e, const c6747_seg_t *segs, int n, int32_t cookie);
// True when a received packet waits for rx_poll (select.poll on a board).
int c6747_emac_rx_ready(const c6747_emac_t *e);
// Post blocks on descriptors that have none (the pool ran short before).
void c6747_emac_rx_refill(c6747_emac_t *e);
// Frames tx() would accept now, whatever their shape.
int c6747_emac_tx_room(const c6747_emac_t *e);
// Hand queued frames to the EMAC. check(ctx, slot) (may be NULL) is asked
// first: 0 means the frame's storage moved: not sent, completed anyway.
void c6747_emac_tx_kick(c6747_emac_t *e, int (*check)(void *ctx, int slot), void *ctx);
// Finished frames in queue order: their cookies (and slots, may be NULL);
// their references are dropped. Returns how many.
int c6747_emac_tx_reap(c6747_emac_t *e, int32_t *cookies, uint16_t *slots, int max);
// Poll the PHY; programs MACCONTROL duplex/speed on a change.
void c6747_emac_link(c6747_emac_t *e, int *up, int *speed, int *full);
// Teardown both channels (0xFFFFFFFC handshake), reclaim every descriptor and
// block, reset. Frames not reaped are dropped with their references.
void c6747_emac_close(c6747_emac_t *e);
// Read-and-clear the EMAC's overrun statistics into the driver's counters.
void c6747_emac_poll_stats(c6747_emac_t *e);
// The multicast hash bit of a group address (0..63), and adding it to cfg.
int c6747_emac_hash_bit(const uint8_t *mac);
void c6747_emac_hash_add(c6747_cfg_t *cfg, const uint8_t *mac);

// ---- MDIO and PHY layer (c6747_mdio.c, c6747_phy.c) ----
void c6747_mdio_init(zcdma_addr_t mdio, uint16_t clkdiv);
// 0..0xFFFF, or -1 (no ACK), -2 (timed out).
int32_t c6747_mdio_read(zcdma_addr_t mdio, unsigned phy, unsigned reg);
int c6747_mdio_write(zcdma_addr_t mdio, unsigned phy, unsigned reg, uint16_t v);
// Find the PHY: kind (C6747_PHY_*) and address.
void c6747_phy_probe(c6747_emac_t *e);
// Link state from the PHY (fixed 100/full when none answered).
void c6747_phy_status(c6747_emac_t *e, int *up, int *speed, int *full);

#endif
