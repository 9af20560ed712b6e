// c6747_model: the EMAC + CPPI DMA + MDIO behavioural model. See c6747_model.h.
#include "zcdma.h"
#if ZCDMA_HOST
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "c6747_model.h"

const char *const c6747m_stat_names[C6747M_NSTATS] = {
    "tx_packets", "tx_bytes", "tx_descs", "rx_packets", "rx_bytes",
    "rx_descs", "rx_filtered", "rx_no_desc", "rx_short_chain",
    "rx_link_down", "tx_no_carrier", "rx_error_frames", "host_errors",
    "bus_errors", "hdp_while_active", "bad_channel", "tx_eoq", "rx_eoq",
    "tx_teardowns", "rx_teardowns", "tdown_marked", "eoi_writes", "pulses",
    "soft_resets", "mdio_accesses", "wire_errors", "steps",
    "link_downs", "tx_min_len", "tx_max_descs", "tx_unclean", "rx_uninvalidated",
};

#define ER(off) (m->emac[(off) / 4])
#define CR(off) (m->ctrl[(off) / 4])
#define STAT(off) (m->stats[((off) - EMAC_STATS_FIRST) / 4])

// ---- CPPI RAM ---------------------------------------------------------------------

static int cppi_ok(const c6747_model_t *m, uint32_t a) {
    return a >= m->base && a - m->base <= C6747_CPPI_RAM_SIZE - DESC_SIZE && ((a - m->base) & 3u) == 0;
}
static uint32_t cppi_rd(const c6747_model_t *m, uint32_t a) {
    uint32_t v;
    memcpy(&v, &m->cppi[a - m->base], 4);
    return v;
}
static void cppi_wr(c6747_model_t *m, uint32_t a, uint32_t v) {
    memcpy(&m->cppi[a - m->base], &v, 4);
}

// ---- interrupts ---------------------------------------------------------------------

// A completion writes CP (the last descriptor of the packet) and raises the
// channel's interrupt; the driver's write of that same value acknowledges it.
static int tx_pending(const c6747_model_t *m) {
    return m->tx_tdown || m->tx_intpend;
}
static int rx_pending(const c6747_model_t *m) {
    return m->rx_tdown || m->rx_intpend;
}
static uint32_t c0_stat(const c6747_model_t *m, int v) {
    switch (v) {
        case 1: return (rx_pending(m) && (m->rxmask & 1u)) ? (CR(CTRL_C0RXEN) & 1u) : 0u;
        case 2: return (tx_pending(m) && (m->txmask & 1u)) ? (CR(CTRL_C0TXEN) & 1u) : 0u;
        case 3: return (m->host_error && (m->macmask & MACINT_HOSTPEND)) ? (CR(CTRL_C0MISCEN) & C0MISCEN_HOSTPEND) : 0u;
        default: return 0;
    }
}
// The control module's paced pulses: one per condition, re-armed by MACEOIVECTOR.
static void irq_eval(c6747_model_t *m) {
    for (int v = 1; v <= 3; v++) {
        if (m->armed[v] && c0_stat(m, v)) {
            m->armed[v] = 0;
            m->latched |= (uint8_t)(1u << v);
            m->st[C6747M_PULSES]++;
        }
    }
}

static void host_err(c6747_model_t *m, int tx, uint32_t code) {
    if (tx) {
        m->macstatus |= code << MACSTATUS_TXERRCODE_SHIFT;
    } else {
        m->macstatus |= code << MACSTATUS_RXERRCODE_SHIFT;
    }
    if (!m->host_error) {
        m->st[C6747M_HOST_ERRORS]++;
    }
    m->host_error = 1;
    irq_eval(m);
}

// Was [a, a + len) cleaned (TX) / invalidated (RX) by the driver lately?
// A buffer the DMA reads must have been written back first (its bytes may
// still sit in the CPU's cache); one it writes must have been invalidated
// (a dirty line evicted later would land on the frame).
static int covered(const c6747m_range_t *r, uint32_t n, uint32_t a, size_t len) {
    uint32_t k = n < C6747M_NCACHE ? n : C6747M_NCACHE;
    for (uint32_t i = 0; i < k; i++) {
        const c6747m_range_t *x = &r[(n - 1u - i) % C6747M_NCACHE];
        if (a >= x->a && (uint64_t)a + len <= (uint64_t)x->a + x->len) {
            return 1;
        }
    }
    return 0;
}

static void *dma_host(c6747_model_t *m, int tx, uint32_t a, size_t len, int write) {
    if (write ? !covered(m->invaled, m->ninvaled, a, len) : !covered(m->cleaned, m->ncleaned, a, len)) {
        m->st[write ? C6747M_RX_UNINVALIDATED : C6747M_TX_UNCLEAN]++;
    }
    void *p = zcdma_to_host(a, len, write);
    if (p == NULL || zcm_fault(&m->faults, ZCM_F_BUS_ERROR)) {
        m->st[C6747M_BUS_ERRORS]++;
        host_err(m, tx, 0);
        return NULL;
    }
    return p;
}

// ---- reset ----------------------------------------------------------------------------

static void emac_reset(c6747_model_t *m) {
    memset(m->emac, 0, sizeof(m->emac));
    memset(m->stats, 0, sizeof(m->stats));
    memset(m->addr_hi, 0, sizeof(m->addr_hi));
    memset(m->addr_lo, 0, sizeof(m->addr_lo));
    m->tx_hdp = m->rx_hdp = m->tx_cp = m->rx_cp = 0;
    m->tx_intpend = m->rx_intpend = 0;
    m->tx_active = m->rx_active = m->tx_tdown = m->rx_tdown = 0;
    m->txmask = m->rxmask = m->macmask = 0;
    m->tx_wb.pending = m->rx_wb.pending = 0;
    m->macstatus = 0;
    m->host_error = 0;
    ER(EMAC_RXMAXLEN) = 1518;
    m->st[C6747M_SOFT_RESETS]++;
}

// ---- TX DMA ----------------------------------------------------------------------------

static int tx_step(c6747_model_t *m) {
    if (!(ER(EMAC_TXCONTROL) & TXCONTROL_TXEN) || !(ER(EMAC_MACCONTROL) & MACCONTROL_GMIIEN)) {
        return 0;
    }
    c6747m_wb_t *wb = &m->tx_wb;
    if (wb->pending) {
        // Write-back: EOQ on the EOP when the next pointer it read was NULL,
        // then OWNER cleared on the SOP (the packet is the driver's again).
        if (wb->next == 0) {
            cppi_wr(m, wb->last + DESC_FLAGLEN, cppi_rd(m, wb->last + DESC_FLAGLEN) | DESC_EOQ);
            m->st[C6747M_TX_EOQ]++;
        }
        cppi_wr(m, wb->sop + DESC_FLAGLEN, cppi_rd(m, wb->sop + DESC_FLAGLEN) & ~DESC_OWNER);
        m->tx_hdp = wb->next;
        m->tx_active = wb->next != 0;
        m->tx_cp = wb->last;
        m->tx_intpend = 1;
        wb->pending = 0;
        irq_eval(m);
        return 1;
    }
    if (!m->tx_active) {
        return 0;
    }
    uint32_t d = m->tx_hdp;
    if (!cppi_ok(m, d)) {
        m->st[C6747M_BUS_ERRORS]++;
        host_err(m, 1, 0);
        return 1;
    }
    uint32_t w3 = cppi_rd(m, d + DESC_FLAGLEN);
    if (!(w3 & DESC_SOP)) {
        host_err(m, 1, HOSTERR_SOP);
        return 1;
    }
    if (!(w3 & DESC_OWNER)) {
        host_err(m, 1, HOSTERR_OWNERSHIP);
        return 1;
    }
    uint32_t pktlen = w3 & DESC_PKTLEN_MASK;
    uint32_t total = 0, cur = d, ndesc = 0;
    int first = 1;
    for (;;) {
        if (!cppi_ok(m, cur) || ndesc >= 512) {
            m->st[C6747M_BUS_ERRORS]++;
            host_err(m, 1, 0);
            return 1;
        }
        uint32_t next = cppi_rd(m, cur + DESC_NEXT);
        uint32_t bp = cppi_rd(m, cur + DESC_BUFPTR);
        uint32_t ol = cppi_rd(m, cur + DESC_OFFLEN);
        uint32_t cw3 = first ? w3 : cppi_rd(m, cur + DESC_FLAGLEN);
        uint32_t off = first ? ol >> 16 : 0;
        uint32_t len = ol & 0xFFFFu;
        if (bp == 0) {
            host_err(m, 1, HOSTERR_ZEROPTR);
            return 1;
        }
        if (len == 0) {
            host_err(m, 1, HOSTERR_ZEROLEN);
            return 1;
        }
        if (total + len > sizeof(m->tx_frame)) {
            host_err(m, 1, HOSTERR_PKTLEN);
            return 1;
        }
        const uint8_t *p = dma_host(m, 1, bp + off, len, 0);
        if (p == NULL) {
            return 1;
        }
        memcpy(m->tx_frame + total, p, len);
        total += len;
        ndesc++;
        if (cw3 & DESC_EOP) {
            break;
        }
        if (next == 0) {
            host_err(m, 1, HOSTERR_NOEOP);
            return 1;
        }
        cur = next;
        first = 0;
    }
    if (total != pktlen) {
        host_err(m, 1, HOSTERR_PKTLEN);
        return 1;
    }
    m->st[C6747M_TX_DESCS] += ndesc;
    if (ndesc > m->st[C6747M_TX_MAX_DESCS]) {
        m->st[C6747M_TX_MAX_DESCS] = ndesc;
    }
    if (m->st[C6747M_TX_MIN_LEN] == 0 || total < m->st[C6747M_TX_MIN_LEN]) {
        m->st[C6747M_TX_MIN_LEN] = total;
    }
    // On the wire (or not: no carrier with the link down, a lost frame).
    if (!m->link_up) {
        m->st[C6747M_TX_NO_CARRIER]++;
        STAT(EMAC_TXCARRIERSENSE)++;
    } else if (!zcm_fault(&m->faults, ZCM_F_TX_DROP)) {
        if (zcm_fault(&m->faults, ZCM_F_TX_CORRUPT) && total > 14) {
            m->tx_frame[14 + zcm_rand(&m->faults, total - 14)] ^= 0xA5;
        }
        if (zcm_wire_send(&m->wire, m->tx_frame, total) < 0) {
            m->st[C6747M_WIRE_ERRORS]++;
        }
    }
    m->st[C6747M_TX_PACKETS]++;
    m->st[C6747M_TX_BYTES] += total;
    STAT(EMAC_TXGOODFRAMES)++;
    STAT(EMAC_TXOCTETS) += total;
    // The EOP's next pointer is read now; the write-back comes in the next step.
    wb->pending = 1;
    wb->sop = d;
    wb->last = cur;
    wb->next = cppi_rd(m, cur + DESC_NEXT);
    return 1;
}

// ---- RX DMA ----------------------------------------------------------------------------

static int hash_hit(const c6747_model_t *m, const uint8_t *a) {
    unsigned h = 0;
    for (int k = 0; k < 6; k += 3) {
        h ^= (unsigned)(a[k] >> 2) ^ (unsigned)(a[k] << 4);
        h ^= (unsigned)(a[k + 1] >> 4) ^ (unsigned)(a[k + 1] << 2);
        h ^= (unsigned)(a[k + 2] >> 6) ^ (unsigned)a[k + 2];
    }
    h &= 0x3Fu;
    uint32_t w = h < 32 ? ER(EMAC_MACHASH1) : ER(EMAC_MACHASH2);
    return (w >> (h & 31u)) & 1u;
}

static int rx_accept(c6747_model_t *m, const uint8_t *f) {
    uint32_t mbp = ER(EMAC_RXMBPENABLE);
    if (mbp & RXMBPENABLE_RXCAFEN) {
        return 1;
    }
    static const uint8_t bc[6] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    if (memcmp(f, bc, 6) == 0) {
        if (mbp & RXMBPENABLE_RXBROADEN) {
            STAT(EMAC_RXBCASTFRAMES)++;
            return 1;
        }
        return 0;
    }
    if (f[0] & 1u) {
        if ((mbp & RXMBPENABLE_RXMULTEN) && hash_hit(m, f)) {
            STAT(EMAC_RXMCASTFRAMES)++;
            return 1;
        }
        return 0;
    }
    if (!(ER(EMAC_RXUNICASTSET) & 1u)) {
        return 0;
    }
    for (int i = 0; i < C6747_NMACADDR; i++) {
        uint32_t lo = m->addr_lo[i], hi = m->addr_hi[i];
        if ((lo & MACADDRLO_VALID) && (lo & MACADDRLO_MATCHFILT)
            && f[0] == (hi & 0xFFu) && f[1] == ((hi >> 8) & 0xFFu) && f[2] == ((hi >> 16) & 0xFFu)
            && f[3] == (hi >> 24) && f[4] == (lo & 0xFFu) && f[5] == ((lo >> 8) & 0xFFu)) {
            return 1;
        }
    }
    return 0;
}

static int rx_step(c6747_model_t *m) {
    if (!(ER(EMAC_RXCONTROL) & RXCONTROL_RXEN) || !(ER(EMAC_MACCONTROL) & MACCONTROL_GMIIEN)) {
        return 0;
    }
    c6747m_wb_t *wb = &m->rx_wb;
    if (wb->pending) {
        uint32_t lastw = cppi_rd(m, wb->last + DESC_FLAGLEN) & ~DESC_OWNER;
        if (wb->last != wb->sop) {
            lastw |= DESC_EOP;
            if (wb->next == 0) {
                lastw |= DESC_EOQ;
            }
            cppi_wr(m, wb->last + DESC_FLAGLEN, lastw);
        }
        uint32_t w = DESC_SOP | wb->flags | wb->pktlen;
        if (wb->last == wb->sop) {
            w |= DESC_EOP | (wb->next == 0 ? DESC_EOQ : 0u);
        }
        if (wb->next == 0) {
            m->st[C6747M_RX_EOQ]++;
        }
        cppi_wr(m, wb->sop + DESC_FLAGLEN, w);       // OWNER clear: the driver's now
        m->rx_hdp = wb->next;
        m->rx_active = wb->next != 0;
        m->rx_cp = wb->last;
        m->rx_intpend = 1;
        wb->pending = 0;
        irq_eval(m);
        return 1;
    }
    if (!m->rx_held) {
        int n = zcm_wire_recv(&m->wire, m->rx_frame, sizeof(m->rx_frame));
        if (n <= 0) {
            if (n < 0) {
                m->st[C6747M_WIRE_ERRORS]++;
            }
            return 0;
        }
        if (n > (int)sizeof(m->rx_frame)) {
            n = sizeof(m->rx_frame);
        }
        if (zcm_fault(&m->faults, ZCM_F_RX_DROP)) {
            return 1;
        }
        if (!m->link_up) {
            m->st[C6747M_RX_LINK_DOWN]++;
            return 1;
        }
        if (n < 14 || !rx_accept(m, m->rx_frame)) {
            m->st[C6747M_RX_FILTERED]++;
            STAT(EMAC_RXFILTERED)++;
            return 1;
        }
        uint32_t flags = 0;
        if (zcm_fault(&m->faults, ZCM_F_RX_CORRUPT) && n > 14) {
            m->rx_frame[14 + zcm_rand(&m->faults, (uint32_t)n - 14)] ^= 0xA5;
        }
        if (zcm_fault(&m->faults, ZCM_F_RX_CRC)) {
            if (zcm_rand(&m->faults, 2)) {
                flags |= DESC_ALIGNERROR;
                STAT(EMAC_RXALIGNCODEERRORS)++;
            } else {
                flags |= DESC_CRCERROR;
                STAT(EMAC_RXCRCERRORS)++;
            }
        }
        if (zcm_fault(&m->faults, ZCM_F_RX_OVERRUN)) {
            flags |= DESC_OVERRUN;
            STAT(EMAC_RXDMAOVERRUNS)++;
        }
        uint32_t maxlen = ER(EMAC_RXMAXLEN) & 0xFFFFu;
        if ((uint32_t)n + 4u > maxlen) {             // the wire's frame + its CRC
            flags |= (flags & DESC_CRCERROR) ? DESC_JABBER : DESC_OVERSIZE;
            STAT(EMAC_RXOVERSIZED)++;
            if ((uint32_t)n > maxlen) {
                n = (int)maxlen;
            }
        }
        if (flags && !(ER(EMAC_RXMBPENABLE) & RXMBPENABLE_RXCEFEN)) {
            m->st[C6747M_RX_FILTERED]++;               // error frames not copied
            return 1;
        }
        m->rx_held = n;
        m->rx_held_flags = flags;
    }
    // Descriptors for the held frame: wait while the driver has completed
    // packets to take back (it is about to return descriptors); with none
    // to take, the frame is lost (start / middle of frame overrun).
    uint32_t need = (uint32_t)m->rx_held, have = 0, d = m->rx_hdp;
    unsigned nd = 0;
    if (!m->rx_active) {
        if (rx_pending(m)) {
            return 0;
        }
        STAT(EMAC_RXSOFOVERRUNS)++;
        m->st[C6747M_RX_NO_DESC]++;
        m->rx_held = 0;
        return 1;
    }
    for (uint32_t a = d; have < need; nd++) {
        if (!cppi_ok(m, a) || nd >= 512) {
            m->st[C6747M_BUS_ERRORS]++;
            host_err(m, 0, 0);
            return 1;
        }
        uint32_t w3 = cppi_rd(m, a + DESC_FLAGLEN);
        uint32_t bp = cppi_rd(m, a + DESC_BUFPTR);
        uint32_t len = cppi_rd(m, a + DESC_OFFLEN) & 0xFFFFu;
        if (!(w3 & DESC_OWNER)) {
            host_err(m, 0, HOSTERR_OWNERSHIP);
            return 1;
        }
        if (bp == 0) {
            host_err(m, 0, HOSTERR_ZEROPTR);
            return 1;
        }
        if (len == 0) {
            host_err(m, 0, HOSTERR_ZEROLEN);
            return 1;
        }
        uint32_t off = nd == 0 ? (ER(EMAC_RXBUFFEROFFSET) & 0xFFFFu) : 0u;
        have += len > off ? len - off : 0u;
        if (have >= need) {
            break;
        }
        a = cppi_rd(m, a + DESC_NEXT);
        if (a == 0) {
            if (rx_pending(m)) {
                return 0;
            }
            STAT(EMAC_RXMOFOVERRUNS)++;
            m->st[C6747M_RX_SHORT_CHAIN]++;
            m->rx_held = 0;
            return 1;
        }
    }
    // Place the frame, buffer by buffer.
    uint32_t at = 0, a = d, last = d;
    for (unsigned k = 0; at < need; k++) {
        uint32_t bp = cppi_rd(m, a + DESC_BUFPTR);
        uint32_t len = cppi_rd(m, a + DESC_OFFLEN) & 0xFFFFu;
        uint32_t off = k == 0 ? (ER(EMAC_RXBUFFEROFFSET) & 0xFFFFu) : 0u;
        uint32_t room = len > off ? len - off : 0u;
        uint32_t chunk = need - at < room ? need - at : room;
        uint8_t *p = dma_host(m, 0, bp + off, chunk, 1);
        if (p == NULL) {
            return 1;
        }
        memcpy(p, m->rx_frame + at, chunk);
        cppi_wr(m, a + DESC_OFFLEN, (k == 0 ? off << 16 : 0u) | chunk);
        if (k > 0) {
            cppi_wr(m, a + DESC_FLAGLEN, cppi_rd(m, a + DESC_FLAGLEN) & ~(DESC_SOP | DESC_EOP | DESC_EOQ));
        }
        at += chunk;
        last = a;
        m->st[C6747M_RX_DESCS]++;
        if (at < need) {
            a = cppi_rd(m, a + DESC_NEXT);
        }
    }
    if (m->rx_held_flags) {
        m->st[C6747M_RX_ERROR_FRAMES]++;
    } else {
        STAT(EMAC_RXGOODFRAMES)++;
    }
    STAT(EMAC_RXOCTETS) += need;
    m->st[C6747M_RX_PACKETS]++;
    m->st[C6747M_RX_BYTES] += need;
    wb->pending = 1;
    wb->sop = d;
    wb->last = last;
    wb->next = cppi_rd(m, last + DESC_NEXT);
    wb->pktlen = need;
    wb->flags = m->rx_held_flags;
    m->rx_held = 0;
    return 1;
}

static void link_flap(c6747_model_t *m) {
    if (m->link_down_left) {
        if (--m->link_down_left == 0 && !m->link_forced_down) {
            m->link_up = 1;
        }
    } else if (m->link_up && zcm_fault(&m->faults, ZCM_F_LINK_FLAP)) {
        m->link_up = 0;
        m->bmsr_low = 1;
        m->st[C6747M_LINK_DOWNS]++;
        m->link_down_left = m->faults.link_down_steps ? m->faults.link_down_steps : 1;
    }
}

static int model_step(c6747_model_t *m) {
    if (m->host_error || m->hold) {
        return 0;
    }
    link_flap(m);
    for (int k = 0; k < 2; k++) {
        int which = (m->turn + k) & 1;
        if (which == 0 ? tx_step(m) : rx_step(m)) {
            m->turn ^= 1;
            m->st[C6747M_STEPS]++;
            return 1;
        }
    }
    return 0;
}

static void bus_step(void *dev) {
    (void)model_step((c6747_model_t *)dev);
}

unsigned c6747_model_run(c6747_model_t *m, unsigned max_steps) {
    unsigned n = 0;
    while (n < max_steps && model_step(m)) {
        n++;
    }
    return n;
}

// ---- teardown -----------------------------------------------------------------------------

static void teardown(c6747_model_t *m, int tx) {
    // A packet being written back completes first; the next one not sent is
    // marked TDOWNCMPLT on its SOP; the channel stops; CP reads 0xFFFFFFFC.
    if (tx) {
        while (m->tx_wb.pending) {
            (void)tx_step(m);
        }
        if (m->tx_active && cppi_ok(m, m->tx_hdp)) {
            cppi_wr(m, m->tx_hdp + DESC_FLAGLEN, cppi_rd(m, m->tx_hdp + DESC_FLAGLEN) | DESC_TDOWNCMPLT);
            m->st[C6747M_TDOWN_MARKED]++;
        }
        m->tx_active = 0;
        m->tx_hdp = 0;
        m->tx_cp = CPPI_TEARDOWN_CP;
        m->tx_tdown = 1;
        m->st[C6747M_TX_TEARDOWNS]++;
    } else {
        while (m->rx_wb.pending) {
            (void)rx_step(m);
        }
        if (m->rx_active && cppi_ok(m, m->rx_hdp)) {
            cppi_wr(m, m->rx_hdp + DESC_FLAGLEN, cppi_rd(m, m->rx_hdp + DESC_FLAGLEN) | DESC_TDOWNCMPLT);
            m->st[C6747M_TDOWN_MARKED]++;
        }
        m->rx_active = 0;
        m->rx_hdp = 0;
        m->rx_cp = CPPI_TEARDOWN_CP;
        m->rx_tdown = 1;
        m->st[C6747M_RX_TEARDOWNS]++;
    }
    irq_eval(m);
}

// ---- MDIO and the PHY ------------------------------------------------------------------------

static int phy_at(const c6747_model_t *m, unsigned a) {
    if (m->phy_kind == C6747M_PHY_KSZ8893) {
        return a == 1 || a == 2;                    // the switch's two port PHYs
    }
    return m->phy_kind == C6747M_PHY_LAN8710A && a == m->phy_addr;
}

static uint16_t phy_read(c6747_model_t *m, unsigned reg) {
    switch (reg) {
        case PHY_BMCR: return m->bmcr;
        case PHY_BMSR: {
            int up = m->link_up && !m->bmsr_low;
            m->bmsr_low = 0;
            return (uint16_t)(0x7809u | (up ? (BMSR_LINK | BMSR_ANCOMPLETE) : 0u));
        }
        case PHY_PHYID1: return m->phy_kind == C6747M_PHY_KSZ8893 ? KSZ8893_PHYID1 : LAN8710A_PHYID1;
        case PHY_PHYID2: return m->phy_kind == C6747M_PHY_KSZ8893 ? (KSZ8893_PHYID2 | 1u) : (LAN8710A_PHYID2 | 1u);
        case PHY_ANAR: return 0x01E1;
        case PHY_ANLPAR: return m->link_up ? 0x45E1 : 0;
        case LAN8710A_PSCSR:
            if (m->phy_kind != C6747M_PHY_LAN8710A) {
                return 0;
            }
            return (uint16_t)((m->speed100 ? 2u : 1u) | (m->full ? 4u : 0u)) << LAN8710A_PSCSR_SPEED_SHIFT;
        default: return 0;
    }
}

static void mdio_access(c6747_model_t *m, uint32_t v) {
    unsigned reg = (v >> USERACCESS_REGADR_SHIFT) & 31u, phy = (v >> USERACCESS_PHYADR_SHIFT) & 31u;
    m->st[C6747M_MDIO_ACCESSES]++;
    m->go_busy = 2;                                 // GO reads set twice: the driver must wait
    if (!(m->mdio[MDIO_CONTROL / 4] & MDIO_CONTROL_ENABLE) || !phy_at(m, phy)) {
        m->ua0 = (v & ~(USERACCESS_GO | USERACCESS_ACK)) | 0xFFFFu;
        return;
    }
    if (v & USERACCESS_WRITE) {
        if (reg == PHY_BMCR) {
            m->bmcr = (uint16_t)(v & ~BMCR_RESET & ~BMCR_ANRESTART & 0xFFFFu);
        }
        m->ua0 = (v & ~USERACCESS_GO) | USERACCESS_ACK;
    } else {
        m->ua0 = (v & ~(USERACCESS_GO | USERACCESS_DATA_MASK)) | USERACCESS_ACK | phy_read(m, reg);
    }
}

// ---- the register window ------------------------------------------------------------------------

static uint32_t model_rd(void *dev, uint32_t off) {
    c6747_model_t *m = dev;
    if (off < C6747_CPPI_RAM_SIZE) {
        return (off & 3u) ? 0u : cppi_rd(m, m->base + off);
    }
    if (off >= C6747_CTRL_OFF && off < C6747_CTRL_OFF + 0x100u) {
        uint32_t r = off - C6747_CTRL_OFF;
        switch (r) {
            case CTRL_SOFTRESET:
                if (m->ctrl_reset_busy) {
                    m->ctrl_reset_busy--;
                    return SOFTRESET_SOFTRESET;
                }
                return 0;
            case CTRL_C0RXSTAT: return c0_stat(m, 1);
            case CTRL_C0TXSTAT: return c0_stat(m, 2);
            case CTRL_C0MISCSTAT: return c0_stat(m, 3) ? C0MISCEN_HOSTPEND : 0u;
            default: return m->ctrl[r / 4];
        }
    }
    if (off >= C6747_EMAC_OFF && off < C6747_EMAC_OFF + 0x1000u) {
        uint32_t r = off - C6747_EMAC_OFF;
        if (r >= EMAC_STATS_FIRST && r <= EMAC_STATS_LAST) {
            return STAT(r);
        }
        switch (r) {
            case EMAC_TXINTSTATRAW: return tx_pending(m) ? 1u : 0u;
            case EMAC_TXINTSTATMASKED: return tx_pending(m) ? (m->txmask & 1u) : 0u;
            case EMAC_TXINTMASKSET: case EMAC_TXINTMASKCLEAR: return m->txmask;
            case EMAC_RXINTSTATRAW: return rx_pending(m) ? 1u : 0u;
            case EMAC_RXINTSTATMASKED: return rx_pending(m) ? (m->rxmask & 1u) : 0u;
            case EMAC_RXINTMASKSET: case EMAC_RXINTMASKCLEAR: return m->rxmask;
            case EMAC_MACINTSTATRAW: return m->host_error ? MACINT_HOSTPEND : 0u;
            case EMAC_MACINTSTATMASKED: return m->host_error ? (m->macmask & MACINT_HOSTPEND) : 0u;
            case EMAC_MACINTMASKSET: case EMAC_MACINTMASKCLEAR: return m->macmask;
            case EMAC_MACINVECTOR: {
                uint32_t v = 0;
                if (rx_pending(m) && (m->rxmask & 1u)) {
                    v |= MACINVECTOR_RXPEND(0);
                }
                if (tx_pending(m) && (m->txmask & 1u)) {
                    v |= MACINVECTOR_TXPEND(0);
                }
                if (m->host_error && (m->macmask & MACINT_HOSTPEND)) {
                    v |= MACINVECTOR_HOSTPEND;
                }
                return v;
            }
            case EMAC_MACSTATUS:
                return m->macstatus | ((m->tx_active || m->rx_active) ? 0u : MACSTATUS_IDLE);
            case EMAC_SOFTRESET:
                if (m->reset_busy) {
                    m->reset_busy--;
                    return SOFTRESET_SOFTRESET;
                }
                return 0;
            case EMAC_MACADDRHI: return m->addr_hi[ER(EMAC_MACINDEX) % C6747_NMACADDR];
            case EMAC_MACADDRLO: return m->addr_lo[ER(EMAC_MACINDEX) % C6747_NMACADDR];
            case EMAC_TXnHDP(0): return m->tx_hdp;
            case EMAC_RXnHDP(0): return m->rx_hdp;
            case EMAC_TXnCP(0): return m->tx_cp;
            case EMAC_RXnCP(0): return m->rx_cp;
            default: return m->emac[r / 4];
        }
    }
    if (off >= C6747_MDIO_OFF && off < C6747_MDIO_OFF + 0x100u) {
        uint32_t r = off - C6747_MDIO_OFF;
        int en = (m->mdio[MDIO_CONTROL / 4] & MDIO_CONTROL_ENABLE) != 0;
        switch (r) {
            case MDIO_VERSION: return 0x00070104u;
            case MDIO_CONTROL: return m->mdio[MDIO_CONTROL / 4] | (m->go_busy ? 0u : MDIO_CONTROL_IDLE);
            case MDIO_ALIVE: {
                uint32_t v = 0;
                for (unsigned a = 0; en && a < 32; a++) {
                    v |= phy_at(m, a) ? 1u << a : 0u;
                }
                return v;
            }
            case MDIO_LINK: {
                uint32_t v = 0;
                for (unsigned a = 0; en && m->link_up && a < 32; a++) {
                    v |= phy_at(m, a) ? 1u << a : 0u;
                }
                return v;
            }
            case MDIO_USERACCESS0:
                if (m->go_busy) {
                    m->go_busy--;
                    return m->ua0 | USERACCESS_GO;
                }
                return m->ua0;
            default: return m->mdio[r / 4];
        }
    }
    return 0;
}

static void model_wr(void *dev, uint32_t off, uint32_t v) {
    c6747_model_t *m = dev;
    if (off < C6747_CPPI_RAM_SIZE) {
        if ((off & 3u) == 0) {
            cppi_wr(m, m->base + off, v);
        }
        return;
    }
    if (off >= C6747_CTRL_OFF && off < C6747_CTRL_OFF + 0x100u) {
        uint32_t r = off - C6747_CTRL_OFF;
        if (r == CTRL_SOFTRESET) {
            if (v & SOFTRESET_SOFTRESET) {
                memset(m->ctrl, 0, sizeof(m->ctrl));
                m->ctrl_reset_busy = 1;
            }
        } else {
            m->ctrl[r / 4] = v;
        }
        irq_eval(m);
        return;
    }
    if (off >= C6747_EMAC_OFF && off < C6747_EMAC_OFF + 0x1000u) {
        uint32_t r = off - C6747_EMAC_OFF;
        if (r >= EMAC_STATS_FIRST && r <= EMAC_STATS_LAST) {
            STAT(r) = STAT(r) > v ? STAT(r) - v : 0u;     // write-to-decrement
            return;
        }
        switch (r) {
            case EMAC_TXTEARDOWN:
                if ((v & 7u) == 0) {
                    teardown(m, 1);
                }
                return;
            case EMAC_RXTEARDOWN:
                if ((v & 7u) == 0) {
                    teardown(m, 0);
                }
                return;
            case EMAC_TXINTMASKSET: m->txmask |= v & 0xFFu; break;
            case EMAC_TXINTMASKCLEAR: m->txmask &= ~v; break;
            case EMAC_RXINTMASKSET: m->rxmask |= v & 0xFFu; break;
            case EMAC_RXINTMASKCLEAR: m->rxmask &= ~v; break;
            case EMAC_MACINTMASKSET: m->macmask |= v & 3u; break;
            case EMAC_MACINTMASKCLEAR: m->macmask &= ~v; break;
            case EMAC_MACEOIVECTOR:
                m->st[C6747M_EOI_WRITES]++;
                if (v <= 3u) {
                    m->armed[v] = 1;
                }
                break;
            case EMAC_SOFTRESET:
                if (v & SOFTRESET_SOFTRESET) {
                    emac_reset(m);
                    m->reset_busy = 1;
                }
                break;
            case EMAC_MACADDRHI: m->addr_hi_w = v; break;
            case EMAC_MACADDRLO: {
                unsigned i = ER(EMAC_MACINDEX) % C6747_NMACADDR;
                m->addr_lo[i] = v;
                m->addr_hi[i] = m->addr_hi_w;
                break;
            }
            case EMAC_RXUNICASTSET: ER(EMAC_RXUNICASTSET) |= v & 0xFFu; break;
            case EMAC_RXUNICASTCLEAR: ER(EMAC_RXUNICASTSET) &= ~v; break;
            case EMAC_TXnHDP(0):
                if (m->tx_active || m->tx_wb.pending) {
                    m->st[C6747M_HDP_WHILE_ACTIVE]++;   // SPRUFL5: only when idle
                } else {
                    m->tx_hdp = v;
                    m->tx_active = v != 0;
                }
                break;
            case EMAC_RXnHDP(0):
                if (m->rx_active || m->rx_wb.pending) {
                    m->st[C6747M_HDP_WHILE_ACTIVE]++;
                } else {
                    m->rx_hdp = v;
                    m->rx_active = v != 0;
                }
                break;
            case EMAC_TXnCP(0):
                if (m->tx_tdown && v == CPPI_TEARDOWN_CP) {
                    m->tx_tdown = 0;
                    m->tx_intpend = 0;
                } else if (v == m->tx_cp) {
                    m->tx_intpend = 0;
                }
                break;
            case EMAC_RXnCP(0):
                if (m->rx_tdown && v == CPPI_TEARDOWN_CP) {
                    m->rx_tdown = 0;
                    m->rx_intpend = 0;
                } else if (v == m->rx_cp) {
                    m->rx_intpend = 0;
                }
                break;
            default:
                if ((r >= EMAC_TXnHDP(1) && r <= EMAC_TXnHDP(7)) || (r >= EMAC_RXnHDP(1) && r <= EMAC_RXnHDP(7))) {
                    if (v) {
                        m->st[C6747M_BAD_CHANNEL]++;
                    }
                }
                m->emac[r / 4] = v;
                break;
        }
        irq_eval(m);
        return;
    }
    if (off >= C6747_MDIO_OFF && off < C6747_MDIO_OFF + 0x100u) {
        uint32_t r = off - C6747_MDIO_OFF;
        if (r == MDIO_USERACCESS0) {
            if (v & USERACCESS_GO) {
                mdio_access(m, v);
            }
        } else {
            m->mdio[r / 4] = v & ~MDIO_CONTROL_FAULT;
        }
    }
}

static void model_cache(void *dev, int op, zcdma_addr_t a, size_t len) {
    c6747_model_t *m = dev;
    if (a == 0 || len == 0) {
        return;                                    // a barrier, or memory the DMA cannot see
    }
    c6747m_range_t r = { a, (uint32_t)len };
    if (op == ZCDMA_OP_CLEAN) {
        m->cleaned[m->ncleaned++ % C6747M_NCACHE] = r;
    } else if (op == ZCDMA_OP_INVAL) {
        m->invaled[m->ninvaled++ % C6747M_NCACHE] = r;
    }
}

static const zcdma_dev_ops_t c6747_model_ops = {
    .rd = model_rd, .wr = model_wr, .step = bus_step, .cache = model_cache,
};

// ---- life -------------------------------------------------------------------------------------

c6747_model_t *c6747_model_new(const char *tap_name, int attach, unsigned queue_depth, uint64_t seed,
    int phy_kind, int *err, char *name_out, size_t name_len) {
    c6747_model_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    m->irq.efd = m->irq.epfd = -1;
    m->wire.tap_fd = -1;
    int r = tap_name ? zcm_wire_open_tap(&m->wire, tap_name, attach, name_out, name_len)
        : zcm_wire_open_queue(&m->wire, queue_depth);
    if (r < 0) {
        free(m);
        *err = r;
        return NULL;
    }
    m->wire_open = 1;
    r = zcm_irq_open(&m->irq, m->wire.tap_fd);
    if (r < 0) {
        zcm_wire_close(&m->wire);
        free(m);
        *err = r;
        return NULL;
    }
    m->irq_open = 1;
    zcm_faults_init(&m->faults, seed);
    m->base = zcdma_host_attach(C6747_CPPI_RAM_BASE, C6747_WINDOW_SIZE, &c6747_model_ops, m);
    if (m->base == 0) {
        c6747_model_free(m);
        *err = -EBUSY;
        return NULL;
    }
    emac_reset(m);
    m->st[C6747M_SOFT_RESETS] = 0;
    m->armed[1] = m->armed[2] = m->armed[3] = 1;
    m->phy_kind = phy_kind;
    m->phy_addr = 1;
    m->link_up = 1;
    m->speed100 = 1;
    m->full = 1;
    m->bmcr = BMCR_ANEN;
    return m;
}

void c6747_model_shutdown(c6747_model_t *m) {
    zcdma_host_detach(m);
    if (m->irq_open) {
        zcm_irq_close(&m->irq);
        m->irq_open = 0;
    }
    if (m->wire.tap_fd >= 0) {
        zcm_wire_close(&m->wire);
        m->wire_open = 0;
    }
}

void c6747_model_free(c6747_model_t *m) {
    if (m == NULL) {
        return;
    }
    c6747_model_shutdown(m);
    if (m->wire_open) {
        zcm_wire_close(&m->wire);
    }
    free(m);
}

int c6747_model_irq_take(c6747_model_t *m) {
    int v = m->latched != 0;
    m->latched = 0;
    return v;
}

void c6747_model_update_line(c6747_model_t *m, int extra) {
    if (!m->irq_open) {
        return;
    }
    irq_eval(m);
    int work = extra || m->latched || c0_stat(m, 1) || c0_stat(m, 2) || c0_stat(m, 3)
        || m->tx_active || m->tx_wb.pending || m->rx_wb.pending || m->rx_held
        || ((ER(EMAC_RXCONTROL) & RXCONTROL_RXEN) && zcm_wire_pending(&m->wire));
    zcm_irq_set(&m->irq, work);
}

void c6747_model_link_set(c6747_model_t *m, int up) {
    m->link_forced_down = !up;
    if (!up && m->link_up) {
        m->bmsr_low = 1;
        m->st[C6747M_LINK_DOWNS]++;
    }
    m->link_up = (uint8_t)(up != 0);
    m->link_down_left = 0;
}

int c6747_model_fd(const c6747_model_t *m) {
    return m->irq_open ? m->irq.epfd : -1;
}
#endif
