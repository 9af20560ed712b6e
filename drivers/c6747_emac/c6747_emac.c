// c6747_emac: portable core of the C6747 / OMAP-L137 EMAC driver. See c6747_emac.h.
//
// CPPI 3.0 as SPRUFL5 describes it, channel 0 each way:
//   - HDP is written only when the channel is idle (nothing of ours on its
//     queue, or the tail showed EOQ);
//   - append: old tail's next = new, then re-read the old tail's flags; EOQ
//     there means the EMAC read the NULL next first and halted ("misqueued"):
//     clear EOQ and restart with HDP = new (counted *_restarts);
//   - completion: per packet, SOP OWNER clear, CP = its last descriptor;
//     EOQ on it with more queued behind = the EMAC halted before our link
//     was visible: HDP = the next one ("requeue", counted *_requeues);
//   - MACEOIVECTOR once a poll step has drained its channel.
#include <stddef.h>
#include "c6747_emac.h"
#include "zcpool.h"

#define E_EINVAL   (22)
#define E_ENOBUFS  (105)
#define E_EIO      (5)
#define E_EBADF    (9)
#define RESET_SPINS  (100000u)
#define TDOWN_SPINS  (100000u)

const char *const c6747_stat_names[C6747_NSTATS] = {
    "rx_frames", "rx_bytes", "rx_no_buffer", "rx_oversize",
    "rx_errors", "tx_frames", "tx_bytes", "tx_ring_full",
    "tx_errors", "tx_ref_moved", "rx_copied_bytes", "tx_copied_bytes",
    "rx_crc_errors", "rx_align_errors", "rx_overruns", "rx_sof_overruns",
    "rx_mof_overruns", "rx_dma_overruns", "rx_multi_desc",
    "rx_restarts", "rx_requeues", "tx_restarts", "tx_requeues",
    "tx_desc_full", "tx_pad_frames", "tx_pad_bytes", "tx_zero_segs",
    "tx_teardown_dropped", "host_errors", "recoveries", "recovered_tx",
    "teardowns", "teardown_timeouts", "irqs", "link_changes",
    "mdio_timeouts", "mdio_nacks",
};

// Padding points here: never written, so never dirty in a cache.
static const uint8_t c6747_zero_pad[64] __attribute__((aligned(32))) = { 0 };

static inline uint32_t emac_rd(const c6747_emac_t *e, uint32_t off) {
    return zcdma_rd32(e->base + C6747_EMAC_OFF + off);
}
static inline void emac_wr(const c6747_emac_t *e, uint32_t off, uint32_t v) {
    zcdma_wr32(e->base + C6747_EMAC_OFF + off, v);
}
static inline uint32_t ctrl_rd(const c6747_emac_t *e, uint32_t off) {
    return zcdma_rd32(e->base + C6747_CTRL_OFF + off);
}
static inline void ctrl_wr(const c6747_emac_t *e, uint32_t off, uint32_t v) {
    zcdma_wr32(e->base + C6747_CTRL_OFF + off, v);
}
static inline zcdma_addr_t desc_at(const c6747_emac_t *e, unsigned i) {
    return e->base + (zcdma_addr_t)(i * DESC_SIZE);
}
static inline zcdma_addr_t tx_desc_at(const c6747_emac_t *e, unsigned ring_idx) {
    return desc_at(e, e->tx_d0 + ring_idx % e->tx_dn);
}

int c6747_emac_hash_bit(const uint8_t *m) {
    // SPRUFL5: 6-bit index, XOR of the DA in 6-bit groups (MSB first per byte triple).
    unsigned h = 0;
    for (int k = 0; k < 6; k += 3) {
        h ^= (unsigned)(m[k] >> 2) ^ (unsigned)(m[k] << 4);
        h ^= (unsigned)(m[k + 1] >> 4) ^ (unsigned)(m[k + 1] << 2);
        h ^= (unsigned)(m[k + 2] >> 6) ^ (unsigned)m[k + 2];
    }
    return (int)(h & 0x3Fu);
}

void c6747_emac_hash_add(c6747_cfg_t *cfg, const uint8_t *mac) {
    int b = c6747_emac_hash_bit(mac);
    if (b < 32) {
        cfg->hash1 |= 1u << b;
    } else {
        cfg->hash2 |= 1u << (b - 32);
    }
}

static int wait_reset(const c6747_emac_t *e, uint32_t block_off, uint32_t reg) {
    zcdma_wr32(e->base + block_off + reg, SOFTRESET_SOFTRESET);
    for (uint32_t i = 0; i < RESET_SPINS; i++) {
        if ((zcdma_rd32(e->base + block_off + reg) & SOFTRESET_SOFTRESET) == 0) {
            return 0;
        }
    }
    return -E_EIO;
}

static void program_addr(const c6747_emac_t *e, unsigned idx, const uint8_t *m, int valid) {
    emac_wr(e, EMAC_MACINDEX, idx);
    emac_wr(e, EMAC_MACADDRHI, (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24);
    emac_wr(e, EMAC_MACADDRLO, (uint32_t)m[4] | (uint32_t)m[5] << 8 | (0u << MACADDRLO_CHANNEL_SHIFT)
        | (valid ? (MACADDRLO_MATCHFILT | MACADDRLO_VALID) : 0u));
}

// ---- RX queue ---------------------------------------------------------------------

static void rx_submit(c6747_emac_t *e, unsigned d) {
    zcdma_addr_t a = desc_at(e, d);
    uint8_t *blk = zcpool_ptr(e->rx_blk[d]);
    // Write back and invalidate: no dirty line may land on the frame later.
    zcdma_cache_clean(blk, ZCPOOL_BLOCK_SIZE);
    zcdma_cache_inval(blk, ZCPOOL_BLOCK_SIZE);
    zcdma_wr32(a + DESC_NEXT, 0);
    zcdma_wr32(a + DESC_BUFPTR, zcdma_to_bus(blk + ZCPOOL_FRAME_OFFSET, C6747_RX_BUF));
    zcdma_wr32(a + DESC_OFFLEN, C6747_RX_BUF);
    zcdma_wr32(a + DESC_FLAGLEN, DESC_OWNER);
    zcdma_wmb();
    if (e->rx_qcount) {
        zcdma_addr_t t = desc_at(e, e->rx_q[(e->rx_qhead + e->rx_qcount - 1u) % e->cfg.rx_n]);
        zcdma_wr32(t + DESC_NEXT, a);
        zcdma_wmb();
        uint32_t f = zcdma_rd32(t + DESC_FLAGLEN);
        if (f & DESC_EOQ) {
            // Misqueued: the EMAC halted at the old tail before it saw the link.
            zcdma_wr32(t + DESC_FLAGLEN, f & ~DESC_EOQ);
            emac_wr(e, EMAC_RXnHDP(0), a);
            e->st[C6747_ST_RX_RESTARTS]++;
        }
    } else {
        emac_wr(e, EMAC_RXnHDP(0), a);       // nothing of ours queued: the channel is idle
    }
    e->rx_q[(e->rx_qhead + e->rx_qcount) % e->cfg.rx_n] = (uint16_t)d;
    e->rx_qcount++;
}

void c6747_emac_rx_refill(c6747_emac_t *e) {
    while (e->rx_npark) {
        int b = zcpool_alloc(ZCPOOL_H_RXPOST);
        if (b < 0) {
            return;
        }
        unsigned d = e->rx_park[--e->rx_npark];
        e->rx_blk[d] = (int16_t)b;
        rx_submit(e, d);
    }
}

// ---- register set-up (init and host-error recovery) ------------------------------

static int hw_setup(c6747_emac_t *e) {
    const c6747_cfg_t *c = &e->cfg;
    if (wait_reset(e, C6747_CTRL_OFF, CTRL_SOFTRESET) || wait_reset(e, C6747_EMAC_OFF, EMAC_SOFTRESET)) {
        return -E_EIO;
    }
    for (unsigned ch = 0; ch < 8; ch++) {
        emac_wr(e, EMAC_TXnHDP(ch), 0);
        emac_wr(e, EMAC_RXnHDP(ch), 0);
        emac_wr(e, EMAC_TXnCP(ch), 0);
        emac_wr(e, EMAC_RXnCP(ch), 0);
    }
    emac_wr(e, EMAC_TXINTMASKCLEAR, 0xFFu);
    emac_wr(e, EMAC_RXINTMASKCLEAR, 0xFFu);
    emac_wr(e, EMAC_MACINTMASKCLEAR, 0xFFu);
    emac_wr(e, EMAC_MACSRCADDRHI, (uint32_t)c->mac[0] | (uint32_t)c->mac[1] << 8
        | (uint32_t)c->mac[2] << 16 | (uint32_t)c->mac[3] << 24);
    emac_wr(e, EMAC_MACSRCADDRLO, (uint32_t)c->mac[4] | (uint32_t)c->mac[5] << 8);
    program_addr(e, 0, c->mac, 1);
    for (unsigned i = 1; i < C6747_NMACADDR; i++) {
        program_addr(e, i, i <= c->nextra ? c->extra[i - 1] : c->mac, i <= c->nextra);
    }
    uint32_t mbp = 0;
    if (!c->no_broadcast) {
        mbp |= RXMBPENABLE_RXBROADEN;
    }
    if (c->hash1 | c->hash2) {
        mbp |= RXMBPENABLE_RXMULTEN;
    }
    if (c->promisc) {
        mbp |= RXMBPENABLE_RXCAFEN;
    }
    if (!c->no_error_frames) {
        mbp |= RXMBPENABLE_RXCEFEN;
    }
    emac_wr(e, EMAC_RXMBPENABLE, mbp);
    emac_wr(e, EMAC_RXUNICASTCLEAR, 0xFFu);
    emac_wr(e, EMAC_RXUNICASTSET, 1u);
    emac_wr(e, EMAC_RXMAXLEN, c->rx_maxlen);
    emac_wr(e, EMAC_RXBUFFEROFFSET, 0);
    emac_wr(e, EMAC_MACHASH1, c->hash1);
    emac_wr(e, EMAC_MACHASH2, c->hash2);
    emac_wr(e, EMAC_RXnFREEBUFFER(0), c->rx_n);
    emac_wr(e, EMAC_TXINTMASKSET, 1u);
    emac_wr(e, EMAC_RXINTMASKSET, 1u);
    emac_wr(e, EMAC_MACINTMASKSET, MACINT_HOSTPEND);
    ctrl_wr(e, CTRL_C0RXEN, 1u);
    ctrl_wr(e, CTRL_C0TXEN, 1u);
    ctrl_wr(e, CTRL_C0MISCEN, C0MISCEN_HOSTPEND);
    emac_wr(e, EMAC_TXCONTROL, TXCONTROL_TXEN);
    emac_wr(e, EMAC_RXCONTROL, RXCONTROL_RXEN);
    return 0;
}

static void set_maccontrol(c6747_emac_t *e) {
    uint32_t v = MACCONTROL_GMIIEN;
    if (e->link_full) {
        v |= MACCONTROL_FULLDUPLEX;
    }
    if (e->link_speed >= 100) {
        v |= MACCONTROL_RMIISPEED;
    }
    e->maccontrol = v;
    emac_wr(e, EMAC_MACCONTROL, v);
}

int c6747_emac_init(c6747_emac_t *e, zcdma_addr_t base, const c6747_cfg_t *cfg) {
    c6747_cfg_t c = *cfg;
    if (c.rx_n < 1 || c.rx_n > C6747_MAX_RX || c.tx_n < 1 || c.tx_n > C6747_MAX_TX) {
        return -E_EINVAL;
    }
    if (c.tx_desc == 0) {
        uint32_t want = (uint32_t)c.tx_n * C6747_DESC_PER_FRAME;
        uint32_t left = C6747_NDESC - c.rx_n;
        c.tx_desc = (uint16_t)(want < left ? want : left);
    }
    if ((uint32_t)c.rx_n + c.tx_desc > C6747_NDESC || c.tx_desc < 1) {
        return -E_EINVAL;
    }
    if (c.rx_maxlen == 0) {
        c.rx_maxlen = 1518;
    }
    if (c.pad > 64 || c.nextra >= C6747_NMACADDR) {
        return -E_EINVAL;
    }
    if (c.mdio_clkdiv == 0) {
        c.mdio_clkdiv = 149;
    }
    zcpool_init();
    e->base = base;
    e->cfg = c;
    e->open = 0;
    e->host_error = 0;
    for (unsigned k = 0; k < C6747_NSTATS; k++) {
        e->st[k] = 0;
    }
    e->rx_qhead = e->rx_qcount = 0;
    e->rx_npark = 0;
    e->tx_d0 = c.rx_n;
    e->tx_dn = c.tx_desc;
    e->tx_dhead = e->tx_dused = 0;
    e->tx_head = e->tx_count = 0;
    e->tx_hw_tail = -1;
    for (unsigned s = 0; s < C6747_MAX_TX; s++) {
        e->tx[s].state = TXF_FREE;
        e->tx[s].nblk = 0;
    }
    e->pad_bus = zcdma_to_bus(c6747_zero_pad, sizeof(c6747_zero_pad));
    if (e->pad_bus == 0) {
        e->pad_bus = zcdma_map(c6747_zero_pad, sizeof(c6747_zero_pad), ZCDMA_RAM_RO);
    }
    zcdma_cache_clean(c6747_zero_pad, sizeof(c6747_zero_pad));
    int r = hw_setup(e);
    if (r) {
        return r;
    }
    c6747_mdio_init(base + C6747_MDIO_OFF, c.mdio_clkdiv);
    c6747_phy_probe(e);
    int up, speed, full;
    c6747_phy_status(e, &up, &speed, &full);
    e->link_up = (uint8_t)up;
    e->link_speed = (uint16_t)speed;
    e->link_full = (uint8_t)full;
    for (unsigned d = 0; d < c.rx_n; d++) {
        e->rx_blk[d] = -1;
        e->rx_park[e->rx_npark++] = (uint16_t)(c.rx_n - 1u - d);   // popped lowest first
    }
    c6747_emac_rx_refill(e);
    set_maccontrol(e);
    e->open = 1;
    return 0;
}

// ---- interrupt and host error ----------------------------------------------------------

uint32_t c6747_emac_isr(c6747_emac_t *e) {
    uint32_t v = emac_rd(e, EMAC_MACINVECTOR);
    e->st[C6747_ST_IRQS]++;
    if (v & MACINVECTOR_HOSTPEND) {
        if (!e->host_error) {
            e->st[C6747_ST_HOST_ERRORS]++;
        }
        e->host_error = 1;
    }
    return v;
}

static void tx_release(c6747_emac_t *e, c6747_txf_t *f) {
    for (unsigned k = 0; k < f->nblk; k++) {
        if (f->blk[k] >= 0) {
            zcpool_free(f->blk[k]);
        }
    }
    f->nblk = 0;
    f->state = TXF_FREE;
    (void)e;
}

// Soft-reset the EMAC and start again with what we hold: frames on the TX
// queue that did not go out complete as errors (their cookies still come
// back), RX descriptors go back on a fresh queue with their blocks.
static void recover(c6747_emac_t *e) {
    for (unsigned i = 0; i < e->tx_count; i++) {
        c6747_txf_t *f = &e->tx[(e->tx_head + i) % e->cfg.tx_n];
        if (f->state != TXF_HW) {
            continue;
        }
        uint32_t w = zcdma_rd32(tx_desc_at(e, (unsigned)f->first) + DESC_FLAGLEN);
        f->state = TXF_DONE;
        f->ok = (w & DESC_OWNER) ? 0 : 1;
        if (f->ok) {
            e->st[C6747_ST_TX_FRAMES]++;
            e->st[C6747_ST_TX_BYTES] += f->len;
        } else {
            e->st[C6747_ST_RECOVERED_TX]++;
            e->st[C6747_ST_TX_ERRORS]++;
        }
    }
    e->tx_hw_tail = -1;
    uint16_t q[C6747_MAX_RX];
    unsigned n = e->rx_qcount;
    for (unsigned i = 0; i < n; i++) {
        q[i] = e->rx_q[(e->rx_qhead + i) % e->cfg.rx_n];
    }
    e->rx_qhead = e->rx_qcount = 0;
    if (hw_setup(e) == 0) {
        for (unsigned i = 0; i < n; i++) {
            rx_submit(e, q[i]);
        }
        set_maccontrol(e);
    } else {
        for (unsigned i = 0; i < n; i++) {
            e->rx_park[e->rx_npark++] = q[i];   // keep the blocks with the descriptors
        }
    }
    e->host_error = 0;
    e->st[C6747_ST_RECOVERIES]++;
    emac_wr(e, EMAC_MACEOIVECTOR, MACEOI_C0MISC);
}

void c6747_emac_service(c6747_emac_t *e) {
    if (e->open && e->host_error) {
        recover(e);
    }
}

void c6747_emac_poll_stats(c6747_emac_t *e) {
    static const uint32_t regs[3] = { EMAC_RXSOFOVERRUNS, EMAC_RXMOFOVERRUNS, EMAC_RXDMAOVERRUNS };
    static const int idx[3] = { C6747_ST_RX_SOF_OVERRUNS, C6747_ST_RX_MOF_OVERRUNS, C6747_ST_RX_DMA_OVERRUNS };
    for (int k = 0; k < 3; k++) {
        uint32_t v = emac_rd(e, regs[k]);
        if (v) {
            emac_wr(e, regs[k], v);          // write-to-decrement: read and clear
            e->st[idx[k]] += v;
            if (k < 2) {
                e->st[C6747_ST_RX_NO_BUFFER] += v;   // no descriptor for the frame
            }
        }
    }
}

// ---- RX --------------------------------------------------------------------------------

static void rx_count_error(c6747_emac_t *e, uint32_t f) {
    if ((f & (DESC_OVERSIZE | DESC_JABBER)) && !(f & (DESC_RX_ERRORS & ~(DESC_OVERSIZE | DESC_JABBER)))) {
        e->st[C6747_ST_RX_OVERSIZE]++;
        return;
    }
    e->st[C6747_ST_RX_ERRORS]++;
    if (f & DESC_CRCERROR) {
        e->st[C6747_ST_RX_CRC_ERRORS]++;
    }
    if (f & (DESC_ALIGNERROR | DESC_CODEERROR)) {
        e->st[C6747_ST_RX_ALIGN_ERRORS]++;
    }
    if (f & DESC_OVERRUN) {
        e->st[C6747_ST_RX_OVERRUNS]++;
    }
}

int c6747_emac_rx_ready(const c6747_emac_t *e) {
    return e->open && e->rx_qcount
           && !(zcdma_rd32(desc_at(e, e->rx_q[e->rx_qhead]) + DESC_FLAGLEN) & DESC_OWNER);
}

int c6747_emac_rx_poll(c6747_emac_t *e, int budget, int32_t *out) {
    if (!e->open) {
        return -E_EBADF;
    }
    c6747_emac_service(e);
    if (e->rx_npark) {
        c6747_emac_rx_refill(e);
    }
    int got = 0;
    unsigned guard = 2u * e->cfg.rx_n + (unsigned)budget;
    while (got < budget && e->rx_qcount && guard--) {
        unsigned d = e->rx_q[e->rx_qhead];
        zcdma_addr_t a = desc_at(e, d);
        uint32_t f = zcdma_rd32(a + DESC_FLAGLEN);
        if (f & DESC_OWNER) {
            break;
        }
        zcdma_rmb();
        // The packet's descriptors: up to the one with EOP.
        unsigned n = 1;
        unsigned last = d;
        uint32_t lf = f;
        while (!(lf & DESC_EOP) && n < e->rx_qcount) {
            last = e->rx_q[(e->rx_qhead + n) % e->cfg.rx_n];
            lf = zcdma_rd32(desc_at(e, last) + DESC_FLAGLEN);
            n++;
        }
        uint16_t pkt[C6747_MAX_RX];
        for (unsigned k = 0; k < n; k++) {
            pkt[k] = e->rx_q[e->rx_qhead];
            e->rx_qhead = (uint16_t)((e->rx_qhead + 1u) % e->cfg.rx_n);
            e->rx_qcount--;
        }
        if ((lf & DESC_EOQ) && e->rx_qcount) {
            // Halted at this packet while more descriptors were linked after it.
            emac_wr(e, EMAC_RXnHDP(0), desc_at(e, e->rx_q[e->rx_qhead]));
            e->st[C6747_ST_RX_REQUEUES]++;
        }
        uint32_t offlen = zcdma_rd32(a + DESC_OFFLEN);
        uint32_t pktlen = f & DESC_PKTLEN_MASK;
        int keep = 0;
        if (n > 1 || !(f & DESC_SOP) || !(lf & DESC_EOP)) {
            e->st[C6747_ST_RX_MULTI_DESC]++;
            if (f & DESC_RX_ERRORS) {
                rx_count_error(e, f);
            } else {
                e->st[C6747_ST_RX_OVERSIZE]++;   // longer than one block
            }
        } else if (f & DESC_RX_ERRORS) {
            rx_count_error(e, f);
        } else if (pktlen == 0 || pktlen != (offlen & 0xFFFFu) || (offlen >> 16) != 0 || pktlen > C6747_RX_BUF) {
            e->st[C6747_ST_RX_ERRORS]++;
        } else {
            keep = 1;
        }
        if (keep) {
            int blk = e->rx_blk[d];
            int fresh = zcpool_alloc(ZCPOOL_H_RXPOST);
            if (fresh < 0) {
                e->st[C6747_ST_RX_NO_BUFFER]++;
                keep = 0;
            } else if (!zcpool_move(blk, ZCPOOL_H_RX)) {
                zcpool_free(fresh);
                e->st[C6747_ST_RX_NO_BUFFER]++;
                keep = 0;
            } else {
                zcdma_cache_inval(zcpool_ptr(blk), ZCPOOL_BLOCK_SIZE);
                e->rx_blk[d] = (int16_t)fresh;
                out[3 * got] = blk;
                out[3 * got + 1] = (int32_t)pktlen;
                out[3 * got + 2] = 0;
                got++;
                e->st[C6747_ST_RX_FRAMES]++;
                e->st[C6747_ST_RX_BYTES] += pktlen;
            }
        }
        // Refilled or recycled: every descriptor of the packet goes back,
        // then the packet is acknowledged (the ring is never empty with
        // nothing pending while we hold its descriptors).
        for (unsigned k = 0; k < n; k++) {
            rx_submit(e, pkt[k]);
        }
        emac_wr(e, EMAC_RXnCP(0), desc_at(e, last));
    }
    c6747_emac_poll_stats(e);
    if (got < budget) {
        emac_wr(e, EMAC_MACEOIVECTOR, MACEOI_C0RX);
    }
    return got;
}

// ---- TX --------------------------------------------------------------------------------

int c6747_emac_tx_room(const c6747_emac_t *e) {
    if (!e->open) {
        return 0;
    }
    int slots = e->cfg.tx_n - e->tx_count;
    int desc = (e->tx_dn - e->tx_dused) / C6747_DESC_PER_FRAME;
    return slots < desc ? slots : desc;
}

int c6747_emac_tx(c6747_emac_t *e, const c6747_seg_t *segs, int n, int32_t cookie) {
    if (!e->open) {
        return -E_EBADF;
    }
    if (n < 1 || n > C6747_MAX_SEG) {
        return -E_EINVAL;
    }
    uint32_t total = 0;
    unsigned nz = 0;
    for (int k = 0; k < n; k++) {
        if (segs[k].len) {
            if (segs[k].bus == 0) {
                return -E_EINVAL;
            }
            nz++;
            total += segs[k].len;
        }
    }
    if (total < C6747_TX_MIN || total > C6747_RX_BUF) {
        return -E_EINVAL;
    }
    uint32_t padlen = total < e->cfg.pad ? e->cfg.pad - total : 0;
    unsigned ndesc = nz + (padlen ? 1u : 0u);
    if (ndesc > e->tx_dn) {
        return -E_EINVAL;                     // could never fit: not a full ring
    }
    if (e->tx_count >= e->cfg.tx_n) {
        e->st[C6747_ST_TX_RING_FULL]++;
        return -E_ENOBUFS;
    }
    if ((unsigned)(e->tx_dn - e->tx_dused) < ndesc) {
        e->st[C6747_ST_TX_RING_FULL]++;
        e->st[C6747_ST_TX_DESC_FULL]++;
        return -E_ENOBUFS;
    }
    unsigned slot = (e->tx_head + e->tx_count) % e->cfg.tx_n;
    c6747_txf_t *f = &e->tx[slot];
    unsigned first = (e->tx_dhead + e->tx_dused) % e->tx_dn;
    unsigned j = 0;
    uint32_t pktlen = total + padlen;
    for (int k = 0; k < n; k++) {
        if (segs[k].len == 0) {
            e->st[C6747_ST_TX_ZERO_SEGS]++;
            continue;
        }
        zcdma_cache_clean(segs[k].ptr, segs[k].len);
        zcdma_addr_t a = tx_desc_at(e, first + j);
        zcdma_wr32(a + DESC_NEXT, j + 1 < ndesc ? tx_desc_at(e, first + j + 1) : 0u);
        zcdma_wr32(a + DESC_BUFPTR, segs[k].bus);
        zcdma_wr32(a + DESC_OFFLEN, segs[k].len);
        if (j > 0) {
            zcdma_wr32(a + DESC_FLAGLEN, j + 1 == ndesc ? DESC_EOP : 0u);
        }
        j++;
    }
    if (padlen) {
        // The minimum frame: one more descriptor on the static zero buffer,
        // the payload stays where it is.
        zcdma_addr_t a = tx_desc_at(e, first + j);
        zcdma_wr32(a + DESC_NEXT, 0);
        zcdma_cache_clean(c6747_zero_pad, padlen);
        zcdma_wr32(a + DESC_BUFPTR, e->pad_bus);
        zcdma_wr32(a + DESC_OFFLEN, padlen);
        zcdma_wr32(a + DESC_FLAGLEN, DESC_EOP);
        e->st[C6747_ST_TX_PAD_FRAMES]++;
        e->st[C6747_ST_TX_PAD_BYTES] += padlen;
    }
    zcdma_wmb();
    zcdma_wr32(tx_desc_at(e, first) + DESC_FLAGLEN,
        DESC_SOP | DESC_OWNER | (ndesc == 1 ? DESC_EOP : 0u) | pktlen);
    f->cookie = cookie;
    f->len = (uint16_t)total;
    f->first = (int16_t)first;
    f->ndesc = (uint8_t)ndesc;
    f->nblk = 0;
    for (int k = 0; k < n; k++) {
        if (segs[k].blk >= 0) {
            f->blk[f->nblk++] = segs[k].blk;
        }
    }
    f->state = TXF_QUEUED;
    f->ok = 0;
    e->tx_dused = (uint16_t)(e->tx_dused + ndesc);
    e->tx_count++;
    return (int)slot;
}

static zcdma_addr_t tx_eop(const c6747_emac_t *e, const c6747_txf_t *f) {
    return tx_desc_at(e, (unsigned)f->first + f->ndesc - 1u);
}

void c6747_emac_tx_kick(c6747_emac_t *e, int (*check)(void *ctx, int slot), void *ctx) {
    if (!e->open) {
        return;
    }
    c6747_emac_service(e);
    for (unsigned i = 0; i < e->tx_count; i++) {
        unsigned s = (e->tx_head + i) % e->cfg.tx_n;
        c6747_txf_t *f = &e->tx[s];
        if (f->state != TXF_QUEUED) {
            continue;
        }
        if (check && !check(ctx, (int)s)) {
            f->state = TXF_DONE;             // storage moved: never read, completed
            f->ok = 0;
            e->st[C6747_ST_TX_REF_MOVED]++;
            continue;
        }
        zcdma_addr_t sop = tx_desc_at(e, (unsigned)f->first);
        if (e->tx_hw_tail >= 0) {
            zcdma_addr_t t = tx_eop(e, &e->tx[e->tx_hw_tail]);
            zcdma_wr32(t + DESC_NEXT, sop);
            zcdma_wmb();
            uint32_t w = zcdma_rd32(t + DESC_FLAGLEN);
            if (w & DESC_EOQ) {
                zcdma_wr32(t + DESC_FLAGLEN, w & ~DESC_EOQ);
                emac_wr(e, EMAC_TXnHDP(0), sop);
                e->st[C6747_ST_TX_RESTARTS]++;
            }
        } else {
            emac_wr(e, EMAC_TXnHDP(0), sop);  // nothing of ours queued: idle
        }
        f->state = TXF_HW;
        e->tx_hw_tail = (int16_t)s;
    }
}

int c6747_emac_tx_reap(c6747_emac_t *e, int32_t *cookies, uint16_t *slots, int max) {
    if (!e->open) {
        return -E_EBADF;
    }
    c6747_emac_service(e);
    int m = 0;
    int drained = 1;
    while (e->tx_count) {
        if (m >= max) {
            drained = 0;
            break;
        }
        unsigned s = e->tx_head;
        c6747_txf_t *f = &e->tx[s];
        if (f->state == TXF_QUEUED) {
            break;
        }
        if (f->state == TXF_HW) {
            zcdma_addr_t sop = tx_desc_at(e, (unsigned)f->first);
            uint32_t w = zcdma_rd32(sop + DESC_FLAGLEN);
            if (w & DESC_OWNER) {
                break;
            }
            zcdma_rmb();
            zcdma_addr_t eop = tx_eop(e, f);
            uint32_t we = f->ndesc > 1 ? zcdma_rd32(eop + DESC_FLAGLEN) : w;
            emac_wr(e, EMAC_TXnCP(0), eop);
            if (e->tx_hw_tail == (int16_t)s) {
                e->tx_hw_tail = -1;
            } else if (we & DESC_EOQ) {
                // Halted here before our link was seen: start the next one.
                for (unsigned i = 1; i < e->tx_count; i++) {
                    c6747_txf_t *g = &e->tx[(s + i) % e->cfg.tx_n];
                    if (g->state == TXF_HW) {
                        emac_wr(e, EMAC_TXnHDP(0), tx_desc_at(e, (unsigned)g->first));
                        e->st[C6747_ST_TX_REQUEUES]++;
                        break;
                    }
                }
            }
            f->ok = 1;
            e->st[C6747_ST_TX_FRAMES]++;
            e->st[C6747_ST_TX_BYTES] += f->len;
        }
        if (cookies) {
            cookies[m] = f->cookie;
        }
        if (slots) {
            slots[m] = (uint16_t)s;
        }
        m++;
        tx_release(e, f);
        e->tx_dhead = (uint16_t)((e->tx_dhead + f->ndesc) % e->tx_dn);
        e->tx_dused = (uint16_t)(e->tx_dused - f->ndesc);
        e->tx_head = (uint16_t)((s + 1u) % e->cfg.tx_n);
        e->tx_count--;
    }
    if (drained) {
        emac_wr(e, EMAC_MACEOIVECTOR, MACEOI_C0TX);
    }
    return m;
}

// ---- link, teardown -----------------------------------------------------------------------

void c6747_emac_link(c6747_emac_t *e, int *up, int *speed, int *full) {
    c6747_phy_status(e, up, speed, full);
    if (e->open && (*up != e->link_up || *speed != e->link_speed || *full != e->link_full)) {
        e->st[C6747_ST_LINK_CHANGES]++;
        e->link_up = (uint8_t)*up;
        if (*up) {
            e->link_speed = (uint16_t)*speed;
            e->link_full = (uint8_t)*full;
            set_maccontrol(e);
        }
    }
}

static void teardown(c6747_emac_t *e, uint32_t reg, uint32_t cp) {
    emac_wr(e, reg, 0);                      // channel 0
    uint32_t i;
    for (i = 0; i < TDOWN_SPINS; i++) {
        if (emac_rd(e, cp) == CPPI_TEARDOWN_CP) {
            break;
        }
    }
    if (i == TDOWN_SPINS) {
        e->st[C6747_ST_TEARDOWN_TIMEOUTS]++;
    }
    emac_wr(e, cp, CPPI_TEARDOWN_CP);
}

void c6747_emac_close(c6747_emac_t *e) {
    if (!e->open) {
        return;
    }
    teardown(e, EMAC_TXTEARDOWN, EMAC_TXnCP(0));
    teardown(e, EMAC_RXTEARDOWN, EMAC_RXnCP(0));
    emac_wr(e, EMAC_TXnHDP(0), 0);
    emac_wr(e, EMAC_RXnHDP(0), 0);
    emac_wr(e, EMAC_TXCONTROL, 0);
    emac_wr(e, EMAC_RXCONTROL, 0);
    emac_wr(e, EMAC_MACCONTROL, 0);
    ctrl_wr(e, CTRL_C0RXEN, 0);
    ctrl_wr(e, CTRL_C0TXEN, 0);
    ctrl_wr(e, CTRL_C0MISCEN, 0);
    (void)wait_reset(e, C6747_EMAC_OFF, EMAC_SOFTRESET);
    // Every TX frame not reaped: its descriptors and references come back.
    while (e->tx_count) {
        c6747_txf_t *f = &e->tx[e->tx_head];
        if (f->state == TXF_HW && (zcdma_rd32(tx_desc_at(e, (unsigned)f->first) + DESC_FLAGLEN) & DESC_OWNER)) {
            e->st[C6747_ST_TX_TEARDOWN_DROPPED]++;
        }
        tx_release(e, f);
        e->tx_head = (uint16_t)((e->tx_head + 1u) % e->cfg.tx_n);
        e->tx_count--;
    }
    e->tx_dhead = e->tx_dused = 0;
    e->tx_hw_tail = -1;
    // Every RX descriptor: its block back to the pool.
    for (unsigned d = 0; d < e->cfg.rx_n; d++) {
        if (e->rx_blk[d] >= 0) {
            zcpool_free(e->rx_blk[d]);
            e->rx_blk[d] = -1;
        }
    }
    e->rx_qhead = e->rx_qcount = 0;
    e->rx_npark = 0;
    e->st[C6747_ST_TEARDOWNS]++;
    e->open = 0;
}
