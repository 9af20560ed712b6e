// The STM32F4/F7 ETH driver's register logic. See eth_core.h.
#include <string.h>

#include "eth_core.h"
#include "eth_phy.h"

const char *const eth_stat_names[] = {
    #define ETH_STAT_NAME(n) #n,
    ETH_STATS(ETH_STAT_NAME)
    #undef ETH_STAT_NAME
};

// Interrupts the driver takes: RX done, TX done, RX buffer unavailable,
// RX overflow, TX underflow, fatal bus error, and the two summaries.
#define ETH_IER_RX    (ETH_DMAIER_RIE | ETH_DMAIER_RBUIE | ETH_DMAIER_ROIE)
#define ETH_IER_ALL   (ETH_IER_RX | ETH_DMAIER_TIE | ETH_DMAIER_TUIE | ETH_DMAIER_FBEIE | \
    ETH_DMAIER_NISE | ETH_DMAIER_AISE)

// ---- descriptors -----------------------------------------------------------------------

static inline zcdma_addr_t rx_desc(const eth_dev_t *e, unsigned i) {
    return e->rx_bus + i * e->stride;
}

static inline zcdma_addr_t tx_desc(const eth_dev_t *e, unsigned i) {
    return e->tx_bus + i * e->stride;
}

static inline uint32_t drd(zcdma_addr_t d, unsigned w) {
    return zcdma_rd32(d + 4u * w);
}

static inline void dwr(zcdma_addr_t d, unsigned w, uint32_t v) {
    zcdma_wr32(d + 4u * w, v);
}

// MAC configuration registers need 4 TX/RX clock cycles between writes:
// write, read back (the wait), write again.
static void mac_write(const eth_dev_t *e, uint32_t off, uint32_t v) {
    eth_wr(e, off, v);
    (void)eth_rd(e, off);
    eth_wr(e, off, v);
}

static void cache_inval_block(const eth_dev_t *e, int blk) {
    if (ETH_CACHE_MAINT(e)) {
        zcdma_cache_inval(zcpool_ptr(blk), ZCPOOL_BLOCK_SIZE);
    }
}

// ---- RX ring ------------------------------------------------------------------------------

static uint32_t rdes1(const eth_dev_t *e, unsigned i) {
    uint32_t v = ETH_RX_RBS;
    if (e->chained) {
        v |= ETH_RDES1_RCH;
    } else if (i == e->rx_n - 1u) {
        v |= ETH_RDES1_RER;
    }
    return v;
}

// Give slot i's descriptor (host-owned) to the DMA with block blk: words
// 1-3 first, then OWN, each after a barrier. With cache maintenance the
// block is invalidated first, so no dirty line is evicted over the frame.
static void rx_arm(eth_dev_t *e, unsigned i, int blk) {
    zcdma_addr_t d = rx_desc(e, i);
    cache_inval_block(e, blk);
    dwr(d, 1, rdes1(e, i));
    dwr(d, 2, zcdma_to_bus(zcpool_ptr(blk) + ZCPOOL_FRAME_OFFSET, ETH_RX_RBS));
    if (!e->chained) {
        dwr(d, 3, 0);
    }
    zcdma_wmb();
    dwr(d, 0, ETH_RDES0_OWN);
}

// The same block goes back to the DMA (frame dropped): only OWN changes.
static void rx_recycle(eth_dev_t *e, unsigned i) {
    cache_inval_block(e, e->rx_blk[i]);
    zcdma_wmb();
    dwr(rx_desc(e, i), 0, ETH_RDES0_OWN);
}

static void rx_ring_init(eth_dev_t *e) {
    for (unsigned i = 0; i < e->rx_n; i++) {
        zcdma_addr_t d = rx_desc(e, i);
        dwr(d, 0, 0);
        dwr(d, 1, rdes1(e, i));
        dwr(d, 2, 0);
        dwr(d, 3, e->chained ? rx_desc(e, (i + 1u) % e->rx_n) : 0);
        if (e->enhanced) {
            for (unsigned w = 4; w < ETH_EDESC_WORDS; w++) {
                dwr(d, w, 0);
            }
        }
    }
    for (unsigned i = 0; i < e->rx_n; i++) {
        if (e->rx_blk[i] >= 0) {
            rx_arm(e, i, e->rx_blk[i]);
        }
    }
    e->rx_head = 0;
}

int eth_rx_refill(eth_dev_t *e) {
    int n = 0;
    for (unsigned k = 0; k < e->rx_n && e->rx_missing; k++) {
        // in ring order from the head: the DMA waits at the first empty slot
        unsigned i = (e->rx_head + k) % e->rx_n;
        if (e->rx_blk[i] >= 0) {
            continue;
        }
        int b = zcpool_alloc(ZCPOOL_H_RXPOST);
        if (b < 0) {
            break;
        }
        e->rx_blk[i] = (int16_t)b;
        e->rx_missing--;
        rx_arm(e, i, b);
        n++;
    }
    return n;
}

// The checksum verdict of a good frame's last descriptor.
static int rx_flags(eth_dev_t *e, zcdma_addr_t d, uint32_t w0) {
    if (!e->rx_csum) {
        return 0;
    }
    int f = 0;
    if (e->enhanced) {
        if (w0 & ETH_RDES0_ESA) {
            uint32_t x = drd(d, 4);
            if (x & ETH_RDES4_IPCB) {
                f = 0;
            } else if (x & (ETH_RDES4_IPHE | ETH_RDES4_IPPE)) {
                f = ETH_RXF_CSUM_BAD;
            } else if ((x & ETH_RDES4_IPV4PR) && (x & ETH_RDES4_IPPT_MASK)) {
                f = ETH_RXF_CSUM_OK;
            }
        }
    } else {
        // (FT, IPHCE, PCE): 100 ok; 101, 110, 111 errors; others not checked
        switch (w0 & (ETH_RDES0_FT | ETH_RDES0_IPHCE | ETH_RDES0_PCE)) {
            case ETH_RDES0_FT:
                f = ETH_RXF_CSUM_OK;
                break;
            case ETH_RDES0_FT | ETH_RDES0_PCE:
            case ETH_RDES0_FT | ETH_RDES0_IPHCE:
            case ETH_RDES0_FT | ETH_RDES0_IPHCE | ETH_RDES0_PCE:
                f = ETH_RXF_CSUM_BAD;
                break;
            default:
                break;
        }
    }
    return f;
}

// Frame length in the buffer without the CRC: CSTF strips it from type
// frames only; an 802.3 length frame still carries its 4 bytes.
static uint32_t rx_len(const eth_dev_t *e, int blk, uint32_t fl) {
    const uint8_t *f = zcpool_ptr(blk) + ZCPOOL_FRAME_OFFSET;
    (void)e;
    if (fl >= 14 && (((uint32_t)f[12] << 8) | f[13]) >= 0x600) {
        return fl;
    }
    return fl >= 4 ? fl - 4 : 0;
}

static void rx_count_error(eth_dev_t *e, uint32_t w0) {
    e->st.rx_errors++;
    if (w0 & ETH_RDES0_CE) {
        e->st.rx_crc_errors++;
    }
    if (w0 & ETH_RDES0_DE) {
        e->st.rx_truncated++;
    }
}

// Hand the frame in slot i up: a fresh block into the descriptor first; with
// none (or the input path at its quota) the frame is dropped and the same
// block goes back to the DMA. 1 when handed up.
static int rx_handoff(eth_dev_t *e, unsigned i, uint32_t len, int flags, int32_t *out) {
    int blk = e->rx_blk[i];
    int fresh = zcpool_alloc(ZCPOOL_H_RXPOST);
    if (fresh < 0) {
        e->st.rx_no_buffer++;
        rx_recycle(e, i);
        return 0;
    }
    if (!zcpool_move(blk, ZCPOOL_H_RX)) {
        zcpool_free(fresh);
        e->st.rx_no_buffer++;
        rx_recycle(e, i);
        return 0;
    }
    e->rx_blk[i] = (int16_t)fresh;
    rx_arm(e, i, fresh);
    out[0] = blk;
    out[1] = (int32_t)len;
    out[2] = flags;
    if (flags == ETH_RXF_CSUM_OK) {
        e->st.rx_csum_ok++;
    } else if (flags == ETH_RXF_CSUM_BAD) {
        e->st.rx_csum_bad++;
    }
    e->st.rx_frames++;
    e->st.rx_bytes += len;
    return 1;
}

int eth_rx_poll(eth_dev_t *e, int budget, int32_t *out) {
    int got = 0;
    unsigned rearmed = 0;
    for (unsigned iter = 0; got < budget && iter < (unsigned)budget + e->rx_n; iter++) {
        unsigned i = e->rx_head;
        if (e->rx_blk[i] < 0) {
            break;                                  // an empty slot: the DMA stops here too
        }
        zcdma_addr_t d = rx_desc(e, i);
        uint32_t w0 = drd(d, 0);
        if (w0 & ETH_RDES0_OWN) {
            break;
        }
        zcdma_rmb();
        if (!(w0 & ETH_RDES0_FS)) {
            // the middle of a frame whose start we never saw (after a reset)
            e->st.rx_errors++;
            rx_recycle(e, i);
            e->rx_head = (uint16_t)((i + 1u) % e->rx_n);
            rearmed++;
            continue;
        }
        // The descriptors of this frame: i .. i + k - 1, LS on the last.
        unsigned k = 1;
        uint32_t wl = w0;
        while (!(wl & ETH_RDES0_LS)) {
            if (k >= e->rx_n) {
                break;
            }
            unsigned j = (i + k) % e->rx_n;
            if (e->rx_blk[j] < 0) {
                break;
            }
            wl = drd(rx_desc(e, j), 0);
            if (wl & ETH_RDES0_OWN) {
                break;
            }
            k++;
        }
        if (!(wl & ETH_RDES0_LS) || (wl & ETH_RDES0_OWN)) {
            if (k >= e->rx_n) {
                // a frame longer than the whole ring never ends: drop what there is
                for (unsigned j = 0; j < k; j++) {
                    rx_recycle(e, (i + j) % e->rx_n);
                }
                e->st.rx_oversize++;
                e->rx_head = (uint16_t)((i + k) % e->rx_n);
                rearmed += k;
                continue;
            }
            break;                                  // the DMA is still writing it
        }
        zcdma_rmb();
        unsigned last = (i + k - 1u) % e->rx_n;
        uint32_t fl = (wl & ETH_RDES0_FL_MASK) >> ETH_RDES0_FL_SHIFT;
        e->rx_head = (uint16_t)((i + k) % e->rx_n);
        if (wl & ETH_RDES0_ES) {
            rx_count_error(e, wl);
            for (unsigned j = 0; j < k; j++) {
                rx_recycle(e, (i + j) % e->rx_n);
            }
            rearmed += k;
            continue;
        }
        int blk = e->rx_blk[i];
        cache_inval_block(e, blk);                 // what the CPU reads is what the DMA wrote
        uint32_t len = rx_len(e, blk, fl);
        if (k == 2 && len > ETH_RX_RBS && len <= ETH_RX_MAX) {
            // 1597..1598 bytes: RBS stops at 1596 (a multiple of 4), the
            // last bytes landed in the next block: copied (counted) to
            // complete the frame in the first, whose block ends there.
            int nb = e->rx_blk[last];
            uint32_t tail = len - ETH_RX_RBS;
            cache_inval_block(e, nb);
            memcpy(zcpool_ptr(blk) + ZCPOOL_FRAME_OFFSET + ETH_RX_RBS, zcpool_ptr(nb) + ZCPOOL_FRAME_OFFSET, tail);
            e->st.rx_copied_bytes += tail;
            rx_recycle(e, last);
            rearmed++;
        } else if (k > 1) {
            e->st.rx_oversize++;
            for (unsigned j = 0; j < k; j++) {
                rx_recycle(e, (i + j) % e->rx_n);
            }
            rearmed += k;
            continue;
        }
        if (len < 14) {
            e->st.rx_errors++;
            rx_recycle(e, i);
            rearmed++;
            continue;
        }
        int flags = rx_flags(e, rx_desc(e, last), wl);
        got += rx_handoff(e, i, len, flags, out + 3 * got);
        rearmed++;
    }
    // A suspended receive process resumes on a poll demand after refilling.
    // With nothing refilled, a demand only costs the frame it waits with:
    // done when the DMA waits on a slot without a block (every frame it
    // received was taken), so frames the pool cannot take are counted.
    if (rearmed || ((e->events & ETH_DMASR_RBUS) && !eth_rx_pending(e))) {
        e->events &= ~ETH_DMASR_RBUS;
        uint32_t rps = (eth_rd(e, ETH_DMASR) & ETH_DMASR_RPS_MASK) >> ETH_DMASR_RPS_SHIFT;
        if (rps == ETH_RPS_SUSPENDED) {
            zcdma_wmb();
            eth_wr(e, ETH_DMARPDR, 0);
            e->st.rx_poll_demands++;
        }
    }
    if (!eth_rx_pending(e)) {
        // drained: RX interrupts back on (NAPI)
        e->rx_sched = 0;
        if ((e->ier & ETH_IER_RX) != ETH_IER_RX) {
            e->ier |= ETH_IER_RX;
            eth_wr(e, ETH_DMAIER, e->ier);
        }
    }
    return got;
}

int eth_rx_pending(eth_dev_t *e) {
    unsigned i = e->rx_head;
    return e->rx_blk && e->rx_blk[i] >= 0 && !(drd(rx_desc(e, i), 0) & ETH_RDES0_OWN);
}

// ---- TX ring ------------------------------------------------------------------------------

unsigned eth_tx_need(const eth_dev_t *e, const eth_seg_t *seg, unsigned nseg) {
    unsigned z = 0;
    for (unsigned k = 0; k < nseg; k++) {
        z += seg[k].len != 0;
    }
    // ring mode: two buffers per descriptor; chained: TDES3 is the link
    return e->chained ? z : (z + 1u) / 2u;
}

unsigned eth_tx_room(const eth_dev_t *e) {
    unsigned slots = (unsigned)(e->tx_n - e->tx_count);
    unsigned desc = (unsigned)(e->tx_ndesc - e->tx_dused - e->tx_dresv);
    return slots < desc ? slots : desc;
}

// Byte k of the frame described by seg (0 past its end).
static uint8_t frame_byte(const eth_seg_t *seg, unsigned nseg, unsigned k) {
    for (unsigned s = 0; s < nseg; s++) {
        if (k < seg[s].len) {
            return seg[s].ptr[k];
        }
        k -= seg[s].len;
    }
    return 0;
}

// Checksum insertion for this frame: full (with pseudo-header) for TCP/UDP
// and for ICMP whose field is 0, header only for other IPv4, never on an
// IPv4 fragment (ES0206: insertion corrupts fragments) nor on anything else.
static uint8_t tx_cic(eth_dev_t *e, const eth_seg_t *seg, unsigned nseg) {
    if (!e->tx_csum) {
        return ETH_TDES0_CIC_BYPASS;
    }
    unsigned o = 12;
    unsigned type = ((unsigned)frame_byte(seg, nseg, 12) << 8) | frame_byte(seg, nseg, 13);
    if (type == 0x8100) {
        o = 16;
        type = ((unsigned)frame_byte(seg, nseg, 16) << 8) | frame_byte(seg, nseg, 17);
    }
    uint8_t vhl = frame_byte(seg, nseg, o + 2);
    if (type != 0x0800 || (vhl >> 4) != 4) {
        return ETH_TDES0_CIC_BYPASS;
    }
    unsigned ip = o + 2;
    unsigned frag = (((unsigned)frame_byte(seg, nseg, ip + 6) << 8) | frame_byte(seg, nseg, ip + 7)) & 0x3FFFu;
    if (frag) {
        e->st.tx_csum_bypass_frag++;
        return ETH_TDES0_CIC_BYPASS;
    }
    e->st.tx_csum_offload++;
    uint8_t proto = frame_byte(seg, nseg, ip + 9);
    if (proto == 6 || proto == 17) {
        // the stack left the field to us (its TX_CSUM capability): counted
        unsigned c = ip + (vhl & 0xFu) * 4u + (proto == 6 ? 16u : 6u);
        if (frame_byte(seg, nseg, c) == 0 && frame_byte(seg, nseg, c + 1) == 0) {
            e->st.tx_csum_left_zero++;
        }
        return ETH_TDES0_CIC_FULL;
    }
    if (proto == 1) {
        unsigned c = ip + (vhl & 0xFu) * 4u + 2u;
        if (frame_byte(seg, nseg, c) == 0 && frame_byte(seg, nseg, c + 1) == 0) {
            return ETH_TDES0_CIC_FULL;
        }
    }
    return ETH_TDES0_CIC_IPHDR;
}

int eth_tx_queue(eth_dev_t *e, const eth_seg_t *seg, unsigned nseg, int32_t cookie) {
    unsigned need = eth_tx_need(e, seg, nseg);
    if (e->tx_count >= e->tx_n || need > (unsigned)(e->tx_ndesc - e->tx_dused - e->tx_dresv)) {
        e->st.tx_ring_full++;
        return -1;
    }
    unsigned s = (e->tx_head + e->tx_count) % e->tx_n;
    eth_txf_t *f = &e->txf[s];
    f->cookie = cookie;
    f->nseg = (uint8_t)nseg;
    f->need = (uint8_t)need;
    f->state = ETH_TXF_QUEUED;
    f->ndesc = 0;
    f->len = 0;
    for (unsigned k = 0; k < nseg; k++) {
        f->seg[k] = seg[k];
        f->len += seg[k].len;
    }
    f->cic = tx_cic(e, seg, nseg);
    e->tx_dresv += need;
    e->tx_count++;
    return (int)s;
}

static uint32_t tdes0_ring_bits(const eth_dev_t *e, unsigned i) {
    if (e->chained) {
        return ETH_TDES0_TCH;
    }
    return i == e->tx_ndesc - 1u ? ETH_TDES0_TER : 0;
}

// Post frame f into descriptors from tx_dnext: words 1-3 of every descriptor,
// then OWN on all but the first, then (after a barrier) OWN on the first,
// so the DMA never starts a frame whose tail is not ready.
static void tx_post(eth_dev_t *e, eth_txf_t *f) {
    unsigned first = e->tx_dnext, i = first, nd = 0;
    uint32_t w0[ETH_MAX_SEG];
    int half = 0;                                   // buffer 1 of descriptor i is filled
    uint32_t tdes1 = 0;
    for (unsigned k = 0; k < f->nseg; k++) {
        const eth_seg_t *sg = &f->seg[k];
        if (sg->len == 0) {
            continue;                               // a zero-length entry gets no buffer
        }
        if (ETH_CACHE_MAINT(e)) {
            zcdma_cache_clean(sg->ptr, sg->len);    // the DMA reads memory, not the cache
        }
        zcdma_addr_t d = tx_desc(e, i);
        if (!half) {
            tdes1 = sg->len & ETH_TDES1_TBS1_MASK;
            dwr(d, 2, sg->bus);
            if (e->chained) {
                dwr(d, 1, tdes1);
                w0[nd++] = tdes0_ring_bits(e, i);
                i = (i + 1u) % e->tx_ndesc;
            } else {
                half = 1;
            }
        } else {
            tdes1 |= ((uint32_t)sg->len << ETH_TDES1_TBS2_SHIFT) & ETH_TDES1_TBS2_MASK;
            dwr(d, 3, sg->bus);
            dwr(d, 1, tdes1);
            w0[nd++] = tdes0_ring_bits(e, i);
            i = (i + 1u) % e->tx_ndesc;
            half = 0;
        }
    }
    if (half) {
        zcdma_addr_t d = tx_desc(e, i);
        dwr(d, 3, 0);
        dwr(d, 1, tdes1);
        w0[nd++] = tdes0_ring_bits(e, i);
        i = (i + 1u) % e->tx_ndesc;
    }
    w0[0] |= ETH_TDES0_FS | ((uint32_t)f->cic << ETH_TDES0_CIC_SHIFT) | (e->pad ? 0 : ETH_TDES0_DP);
    w0[nd - 1] |= ETH_TDES0_LS | ETH_TDES0_IC;
    zcdma_wmb();
    for (unsigned j = nd; j-- > 1;) {
        dwr(tx_desc(e, (first + j) % e->tx_ndesc), 0, w0[j] | ETH_TDES0_OWN);
    }
    zcdma_wmb();
    dwr(tx_desc(e, first), 0, w0[0] | ETH_TDES0_OWN);
    f->first = (uint16_t)first;
    f->ndesc = (uint16_t)nd;
    e->tx_dnext = (uint16_t)i;
    e->tx_dused += nd;
    e->tx_dresv -= f->need;
}

void eth_tx_kick(eth_dev_t *e) {
    unsigned posted = 0;
    while (e->tx_posted < e->tx_count) {
        eth_txf_t *f = &e->txf[(e->tx_head + e->tx_posted) % e->tx_n];
        if (f->state == ETH_TXF_CANCELLED) {
            e->tx_dresv -= f->need;
            f->ndesc = 0;
        } else {
            tx_post(e, f);
            f->state = ETH_TXF_POSTED;
            posted++;
        }
        e->tx_posted++;
    }
    if (posted) {
        zcdma_wmb();                                // descriptors out before the doorbell
        eth_wr(e, ETH_DMATPDR, 0);
        e->st.tx_poll_demands++;
    }
}

static void tx_release(eth_txf_t *f) {
    for (unsigned k = 0; k < f->nseg; k++) {
        if (f->seg[k].blk >= 0) {
            zcpool_free(f->seg[k].blk);
            f->seg[k].blk = -1;
        }
        f->seg[k].ptr = NULL;
        f->seg[k].len = 0;
    }
    f->nseg = 0;
}

int eth_tx_reap_one(eth_dev_t *e, int32_t *cookie) {
    if (e->tx_posted == 0) {
        return -1;
    }
    unsigned s = e->tx_head;
    eth_txf_t *f = &e->txf[s];
    if (f->state == ETH_TXF_POSTED) {
        zcdma_addr_t last = tx_desc(e, (f->first + f->ndesc - 1u) % e->tx_ndesc);
        uint32_t w0 = drd(last, 0);
        if (w0 & ETH_TDES0_OWN) {
            return -1;
        }
        zcdma_rmb();
        if (w0 & ETH_TDES0_ES) {
            e->st.tx_errors++;
        } else {
            e->st.tx_frames++;
            e->st.tx_bytes += f->len;
        }
        e->tx_dused -= f->ndesc;
    } else if (f->state == ETH_TXF_FAILED) {
        e->st.tx_errors++;                          // lost to a DMA reset
    } else {
        e->st.tx_ref_moved++;                       // cancelled: a lent buffer moved
    }
    *cookie = f->cookie;
    tx_release(f);
    e->tx_head = (uint16_t)((s + 1u) % e->tx_n);
    e->tx_count--;
    e->tx_posted--;
    return (int)s;
}

static void tx_ring_init(eth_dev_t *e) {
    for (unsigned i = 0; i < e->tx_ndesc; i++) {
        zcdma_addr_t d = tx_desc(e, i);
        dwr(d, 0, tdes0_ring_bits(e, i));
        dwr(d, 1, 0);
        dwr(d, 2, 0);
        dwr(d, 3, e->chained ? tx_desc(e, (i + 1u) % e->tx_ndesc) : 0);
        if (e->enhanced) {
            for (unsigned w = 4; w < ETH_EDESC_WORDS; w++) {
                dwr(d, w, 0);
            }
        }
    }
    e->tx_dnext = 0;
    e->tx_dused = 0;
}

// ---- MDIO --------------------------------------------------------------------------------

static int mdio_wait(eth_dev_t *e) {
    for (unsigned t = 0; t < ETH_MDIO_WAIT; t++) {
        if (!(eth_rd(e, ETH_MACMIIAR) & ETH_MACMIIAR_MB)) {
            return 0;
        }
    }
    e->st.mdio_timeouts++;
    return -1;
}

static uint32_t miiar(unsigned pa, unsigned reg) {
    return ((pa << ETH_MACMIIAR_PA_SHIFT) & ETH_MACMIIAR_PA_MASK)
           | ((reg << ETH_MACMIIAR_MR_SHIFT) & ETH_MACMIIAR_MR_MASK)
           | ETH_MACMIIAR_CR_DIV102 | ETH_MACMIIAR_MB;
}

int eth_mdio_read(eth_dev_t *e, unsigned pa, unsigned reg, uint16_t *val) {
    if (mdio_wait(e)) {
        return -1;
    }
    eth_wr(e, ETH_MACMIIAR, miiar(pa, reg));
    if (mdio_wait(e)) {
        return -1;
    }
    *val = (uint16_t)eth_rd(e, ETH_MACMIIDR);
    return 0;
}

int eth_mdio_write(eth_dev_t *e, unsigned pa, unsigned reg, uint16_t val) {
    if (mdio_wait(e)) {
        return -1;
    }
    eth_wr(e, ETH_MACMIIDR, val);
    eth_wr(e, ETH_MACMIIAR, miiar(pa, reg) | ETH_MACMIIAR_MW);
    return mdio_wait(e);
}

// ---- MAC and DMA set-up ---------------------------------------------------------------------

static uint32_t maccr_value(const eth_dev_t *e) {
    uint32_t v = ETH_MACCR_CSTF | ETH_MACCR_RD;
    if (e->rx_csum) {
        v |= ETH_MACCR_IPCO;
    }
    // before the PHY resolved: 100 Mbit/s full duplex, what the PHY advertises first
    if (!e->phy.up || e->phy.speed == 100) {
        v |= ETH_MACCR_FES;
    }
    if (!e->phy.up || e->phy.full) {
        v |= ETH_MACCR_DM;
    }
    return v;
}

void eth_mac_link(eth_dev_t *e) {
    uint32_t v = eth_rd(e, ETH_MACCR) & ~(ETH_MACCR_FES | ETH_MACCR_DM);
    v |= maccr_value(e) & (ETH_MACCR_FES | ETH_MACCR_DM);
    mac_write(e, ETH_MACCR, v);
}

static int soft_reset(eth_dev_t *e) {
    eth_wr(e, ETH_DMABMR, ETH_DMABMR_SR);
    for (unsigned t = 0; t < ETH_RESET_WAIT; t++) {
        if (!(eth_rd(e, ETH_DMABMR) & ETH_DMABMR_SR)) {
            return 0;
        }
    }
    e->st.reset_timeouts++;
    return -1;
}

// Everything after the soft reset, which cleared every MAC and DMA register.
static void hw_setup(eth_dev_t *e) {
    mac_write(e, ETH_MACCR, maccr_value(e));
    mac_write(e, ETH_MACFFR, e->promisc ? ETH_MACFFR_PM : ETH_MACFFR_PAM);
    mac_write(e, ETH_MACFCR, 0);
    eth_wr(e, ETH_MACIMR, ETH_MACIMR_PMTIM | ETH_MACIMR_TSTIM);
    eth_wr(e, ETH_MACA0HR, (uint32_t)e->mac[4] | ((uint32_t)e->mac[5] << 8));
    eth_wr(e, ETH_MACA0LR, (uint32_t)e->mac[0] | ((uint32_t)e->mac[1] << 8)
        | ((uint32_t)e->mac[2] << 16) | ((uint32_t)e->mac[3] << 24));
    eth_wr(e, ETH_DMABMR, ETH_DMABMR_AAB | ETH_DMABMR_USP | (32u << ETH_DMABMR_PBL_SHIFT) | (32u << 17)
        | (e->enhanced ? ETH_DMABMR_EDFE : 0)
        | (((uint32_t)e->dsl << ETH_DMABMR_DSL_SHIFT) & ETH_DMABMR_DSL_MASK));
    rx_ring_init(e);
    tx_ring_init(e);
    zcdma_wmb();
    eth_wr(e, ETH_DMARDLAR, e->rx_bus);
    eth_wr(e, ETH_DMATDLAR, e->tx_bus);
    // Store and forward both ways (TX checksum insertion needs the whole
    // frame), error and checksum-error frames to the driver, which counts
    // them, and undersized good frames too.
    uint32_t omr = ETH_DMAOMR_RSF | ETH_DMAOMR_TSF | ETH_DMAOMR_DTCEFD | ETH_DMAOMR_FEF
                   | ETH_DMAOMR_FUGF | ETH_DMAOMR_OSF;
    eth_wr(e, ETH_DMAOMR, omr);
    e->ier = ETH_IER_ALL;
    eth_wr(e, ETH_DMASR, ETH_DMASR_W1C);
    eth_wr(e, ETH_DMAIER, e->ier);
    // TX on, flush its FIFO, TX DMA on; then RX, MAC before DMA.
    mac_write(e, ETH_MACCR, maccr_value(e) | ETH_MACCR_TE);
    eth_wr(e, ETH_DMAOMR, omr | ETH_DMAOMR_FTF);
    omr |= ETH_DMAOMR_ST;
    eth_wr(e, ETH_DMAOMR, omr);
    mac_write(e, ETH_MACCR, maccr_value(e) | ETH_MACCR_TE | ETH_MACCR_RE);
    omr |= ETH_DMAOMR_SR;
    eth_wr(e, ETH_DMAOMR, omr);
}

int eth_init(eth_dev_t *e) {
    e->stride = ((e->enhanced ? ETH_EDESC_WORDS : ETH_DESC_WORDS) + (e->chained ? 0u : e->dsl)) * 4u;
    e->rx_head = 0;
    e->rx_missing = 0;
    for (unsigned i = 0; i < e->rx_n; i++) {
        e->rx_blk[i] = -1;
        e->rx_missing++;
    }
    for (unsigned s = 0; s < e->tx_n; s++) {
        e->txf[s].nseg = 0;
        for (unsigned k = 0; k < ETH_MAX_SEG; k++) {
            e->txf[s].seg[k].blk = -1;
        }
    }
    e->tx_head = e->tx_count = e->tx_posted = 0;
    e->tx_dresv = 0;
    e->events = 0;
    e->rx_sched = e->tx_sched = e->fatal = e->dead = 0;
    memset(&e->phy, 0, sizeof(e->phy));
    if (soft_reset(e)) {
        e->dead = 1;
        return -1;
    }
    // Blocks for the ring (as many as the pool gives; the rest come later).
    for (unsigned i = 0; i < e->rx_n; i++) {
        int b = zcpool_alloc(ZCPOOL_H_RXPOST);
        if (b < 0) {
            break;
        }
        e->rx_blk[i] = (int16_t)b;
        e->rx_missing--;
    }
    hw_setup(e);
    eth_phy_start(e, 0);
    return 0;
}

void eth_stop(eth_dev_t *e) {
    uint32_t omr = eth_rd(e, ETH_DMAOMR);
    eth_wr(e, ETH_DMAOMR, omr & ~ETH_DMAOMR_ST);
    mac_write(e, ETH_MACCR, eth_rd(e, ETH_MACCR) & ~(ETH_MACCR_TE | ETH_MACCR_RE));
    eth_wr(e, ETH_DMAOMR, omr & ~(ETH_DMAOMR_ST | ETH_DMAOMR_SR));
    eth_wr(e, ETH_DMAIER, 0);
    // The blocks go back to the pool next: wait (bounded) until neither
    // process can still be reading or writing one.
    for (unsigned t = 0; t < ETH_RESET_WAIT; t++) {
        if (!(eth_rd(e, ETH_DMASR) & (ETH_DMASR_TPS_MASK | ETH_DMASR_RPS_MASK))) {
            break;
        }
    }
}

void eth_release(eth_dev_t *e) {
    for (unsigned i = 0; i < e->rx_n; i++) {
        if (e->rx_blk[i] >= 0) {
            zcpool_free(e->rx_blk[i]);
            e->rx_blk[i] = -1;
        }
    }
    e->rx_missing = e->rx_n;
    for (unsigned k = 0; k < e->tx_count; k++) {
        tx_release(&e->txf[(e->tx_head + k) % e->tx_n]);
    }
    e->tx_head = e->tx_count = e->tx_posted = 0;
    e->tx_dresv = e->tx_dused = 0;
}

// ---- interrupt status and recovery ------------------------------------------------------------

// After a fatal bus error (or a DMA found stopped with work): frames handed
// to the DMA complete as errors (their references dropped at reap), frames
// received but not yet handed up are dropped, every block stays where it was,
// and the MAC and DMA are reset and programmed again.
static void recover(eth_dev_t *e) {
    e->st.resets++;
    for (unsigned k = 0; k < e->tx_posted; k++) {
        eth_txf_t *f = &e->txf[(e->tx_head + k) % e->tx_n];
        if (f->state == ETH_TXF_POSTED) {
            f->state = ETH_TXF_FAILED;
        }
        f->ndesc = 0;
    }
    for (unsigned i = 0; i < e->rx_n; i++) {
        if (e->rx_blk[i] >= 0 && !(drd(rx_desc(e, i), 0) & ETH_RDES0_OWN)) {
            e->st.rx_errors++;
        }
    }
    if (soft_reset(e)) {
        e->dead = 1;                                // REF_CLK gone: tried again next time
        return;
    }
    e->dead = 0;
    e->fatal = 0;
    e->events = 0;
    hw_setup(e);                                    // rings re-armed with the same blocks
}

uint32_t eth_service(eth_dev_t *e) {
    if (e->dead) {
        recover(e);
        if (e->dead) {
            return 0;
        }
    }
    uint32_t sr = eth_rd(e, ETH_DMASR);
    uint32_t ack = sr & ETH_DMASR_W1C;
    if (ack) {
        eth_wr(e, ETH_DMASR, ack);
        e->st.irqs++;
        e->events |= ack;
    }
    if (ack & (ETH_DMASR_RS | ETH_DMASR_RBUS | ETH_DMASR_ROS)) {
        e->rx_sched = 1;
        if (e->ier & ETH_IER_RX) {
            // NAPI: no more RX interrupts until the poll step drained the ring
            e->ier &= ~ETH_IER_RX;
            eth_wr(e, ETH_DMAIER, e->ier);
        }
    }
    if (ack & ETH_DMASR_RBUS) {
        e->st.rbus++;
    }
    if (ack & (ETH_DMASR_RBUS | ETH_DMASR_ROS)) {
        // missed-frame counters (clear on read)
        uint32_t m = eth_rd(e, ETH_DMAMFBOCR);
        uint32_t mfc = (m & ETH_DMAMFBOCR_MFC_MASK) + ((m & ETH_DMAMFBOCR_OMFC) ? 0x10000u : 0);
        uint32_t mfa = ((m & ETH_DMAMFBOCR_MFA_MASK) >> ETH_DMAMFBOCR_MFA_SHIFT) + ((m & ETH_DMAMFBOCR_OFOC) ? 0x800u : 0);
        e->st.rx_missed += mfc;
        e->st.rx_no_buffer += mfc;                  // no buffer was there for them
        e->st.rx_fifo_overflow += mfa;
    }
    if (ack & (ETH_DMASR_TS | ETH_DMASR_TBUS | ETH_DMASR_TUS)) {
        e->tx_sched = 1;
    }
    if (ack & ETH_DMASR_FBES) {
        e->st.fatal_bus_errors++;
        e->fatal = 1;
    }
    const eth_txf_t *hf = &e->txf[e->tx_head];
    if (!e->fatal && e->tx_posted > 0 && hf->state == ETH_TXF_POSTED
        && (drd(tx_desc(e, (hf->first + hf->ndesc - 1u) % e->tx_ndesc), 0) & ETH_TDES0_OWN)) {
        // the oldest frame handed over is not done: the TX process must be on it
        unsigned tps = (sr & ETH_DMASR_TPS_MASK) >> ETH_DMASR_TPS_SHIFT;
        if (tps == ETH_TPS_STOPPED) {
            e->st.dma_stuck++;
            e->fatal = 1;
        } else if (tps == ETH_TPS_SUSPENDED) {
            // TBUS: it stopped before our descriptors were visible; resume
            zcdma_wmb();
            eth_wr(e, ETH_DMATPDR, 0);
            e->st.tbus_resume++;
        }
    }
    if (!e->fatal && ((sr & ETH_DMASR_RPS_MASK) >> ETH_DMASR_RPS_SHIFT) == ETH_RPS_STOPPED) {
        e->st.dma_stuck++;
        e->fatal = 1;
    }
    if (e->fatal) {
        recover(e);
    }
    return ack;
}
