// stm32_eth_model: the STM32F4/F7 ETH MAC + DMA and a LAN8742A, behaviourally.
// See stm32_eth_model.h. Unix build only.
#include "zcdma.h"

#if ZCDMA_HOST
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stm32_eth_regs.h"
#include "stm32_eth_model.h"

const char *const stm32m_stat_names[] = {
    #define STM32M_NAME(n) #n,
    STM32M_STATS(STM32M_NAME)
    #undef STM32M_NAME
};

#define FRAME_MIN        (60)      // without CRC
#define FIFO_MAX         (ZCM_FRAME_MAX + 4)
#define MDIO_BUSY_READS  (2)       // MACMIIAR reads before MB clears
#define SR_BUSY_READS    (3)       // DMABMR reads before SR clears
#define PHY_RESET_TICKS  (2)
#define PHY_AN_TICKS     (3)       // autonegotiation completes after this many PHY ticks
#define RUN_MAX_STEPS    (4096)
#define CACHE_TRACK      (1024)
#define TX_DESC_MAX      (256)     // descriptors one frame may span

enum { CS_NONE = 0, CS_ARMED, CS_WRITTEN, CS_READ };

typedef struct {
    zcdma_addr_t a, end;
    uint8_t state;                 // RX: CS_*; TX clean list: 1 live, 0 used
} crange_t;

struct stm32m {
    zcdma_addr_t base;
    // MAC
    uint32_t maccr, macffr, machthr, machtlr, macmiiar, macmiidr, macfcr, macvlantr, macimr;
    uint32_t maca0hr, maca0lr, maca1hr;
    uint32_t mmccr, mmc_tgfc, mmc_rfce, mmc_rfae, mmc_rguf;
    // DMA
    uint32_t dmabmr, dmardlar, dmatdlar, dmasr, dmaomr, dmaier, dmarswtr;
    uint32_t mfc, mfa;             // DMAMFBOCR counters
    int omfc, ofoc;
    uint32_t ebs;                  // DMASR.EBS bits of the last bus error
    unsigned rps, tps;
    zcdma_addr_t cur_rx, cur_tx, cur_rxbuf, cur_txbuf;
    int rx_loaded, tx_loaded;      // current pointer taken from the list base
    int rx_demand, tx_demand;
    int fatal;                     // a bus error stopped both engines (until a soft reset)
    int sr_busy, sr_stuck;
    unsigned lose_tx_demands;
    int mdio_busy;
    // RX FIFO: one frame (RSF: whole frames only)
    uint8_t fifo[FIFO_MAX];
    uint32_t fifo_len;             // bytes to write (frame, + CRC when not stripped)
    uint32_t fifo_st;              // RDES0 status bits (CE, RWT, FT, checksum code)
    uint32_t fifo_rdes4;
    // TX assembly
    uint8_t txf[ZCM_FRAME_MAX + 64];
    zcdma_addr_t txd[TX_DESC_MAX];
    // PHY
    uint16_t bmcr, anar, smr, imr, isfr;
    int phy_reset_left, an_left, an_done, cable, link, link_latched_low, flap_left;
    // cache discipline
    int cache_checks;
    crange_t rx_track[CACHE_TRACK];
    crange_t tx_clean[CACHE_TRACK];
    unsigned rx_track_next, tx_clean_next;
    // harness
    zcm_wire_t wire;
    zcm_faults_t faults;
    zcm_irq_t irq;
    char tap_name[32];
    stm32m_stats_t st;
};

static const zcdma_dev_ops_t stm32m_ops;

// ---- small helpers ----------------------------------------------------------------------

static uint32_t crc_table[256];

static void crc_init(void) {
    if (crc_table[1]) {
        return;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    }
    return ~c;
}

static uint32_t be16(const uint8_t *p) {
    return ((uint32_t)p[0] << 8) | p[1];
}

static void put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

// One's-complement sum of n bytes (big-endian words) added to s.
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += be16(p + i);
    }
    if (n & 1) {
        s += (uint32_t)p[n - 1] << 8;
    }
    return s;
}

static uint16_t fold(uint32_t s) {
    while (s >> 16) {
        s = (s & 0xFFFF) + (s >> 16);
    }
    return (uint16_t)s;
}

static uint32_t desc_words(stm32m_t *m) {
    return (m->dmabmr & ETH_DMABMR_EDFE) ? ETH_EDESC_WORDS : ETH_DESC_WORDS;
}

static uint32_t dsl_bytes(stm32m_t *m) {
    return ((m->dmabmr & ETH_DMABMR_DSL_MASK) >> ETH_DMABMR_DSL_SHIFT) * 4u;
}

// ---- interrupt summaries ----------------------------------------------------------------

static void summaries(stm32m_t *m) {
    if (m->dmasr & m->dmaier & ETH_DMASR_NIS_SRC) {
        m->dmasr |= ETH_DMASR_NIS;
    }
    if (m->dmasr & m->dmaier & ETH_DMASR_AIS_SRC) {
        m->dmasr |= ETH_DMASR_AIS;
    }
}

static void raise(stm32m_t *m, uint32_t bits) {
    m->dmasr |= bits;
    summaries(m);
}

int stm32m_irq_line(stm32m_t *m) {
    return ((m->dmasr & ETH_DMASR_NIS) && (m->dmaier & ETH_DMAIER_NISE))
           || ((m->dmasr & ETH_DMASR_AIS) && (m->dmaier & ETH_DMAIER_AISE));
}

// A failed DMA access: FBES with the access's kind in EBS; both engines stop.
static void bus_error(stm32m_t *m, int tx, int read, int desc) {
    m->ebs = (tx ? ETH_DMASR_EBS_TX : 0) | (read ? ETH_DMASR_EBS_READ : 0) | (desc ? ETH_DMASR_EBS_DESC : 0);
    m->fatal = 1;
    m->rps = ETH_RPS_STOPPED;
    m->tps = ETH_TPS_STOPPED;
    m->st.bus_errors++;
    raise(m, ETH_DMASR_FBES);
}

// A descriptor as the DMA reaches it: NULL (and a bus error raised) when the
// bus refuses it or the seeded bus_error fault fires on this fetch.
static uint32_t *desc_at(stm32m_t *m, zcdma_addr_t a, int tx) {
    uint32_t *d = (a & 3u) ? NULL : zcdma_to_host(a, desc_words(m) * 4u, 1);
    if (d == NULL || zcm_fault(&m->faults, ZCM_F_BUS_ERROR)) {
        bus_error(m, tx, 1, 1);
        return NULL;
    }
    return d;
}

// ---- reset ---------------------------------------------------------------------------------

static void mac_dma_reset(stm32m_t *m) {
    m->maccr = ETH_MACCR_RESET;
    m->macffr = m->machthr = m->machtlr = m->macmiiar = m->macmiidr = 0;
    m->macfcr = m->macvlantr = m->macimr = 0;
    m->maca0hr = ETH_MACA0HR_RESET;
    m->maca0lr = ETH_MACA0LR_RESET;
    m->maca1hr = 0x0000FFFFu;
    m->mmccr = m->mmc_tgfc = m->mmc_rfce = m->mmc_rfae = m->mmc_rguf = 0;
    m->dmabmr = ETH_DMABMR_RESET;
    m->dmardlar = m->dmatdlar = m->dmasr = m->dmaomr = m->dmaier = m->dmarswtr = 0;
    m->mfc = m->mfa = 0;
    m->omfc = m->ofoc = 0;
    m->ebs = 0;
    m->rps = ETH_RPS_STOPPED;
    m->tps = ETH_TPS_STOPPED;
    m->cur_rx = m->cur_tx = m->cur_rxbuf = m->cur_txbuf = 0;
    m->rx_loaded = m->tx_loaded = 0;
    m->rx_demand = m->tx_demand = 0;
    m->fatal = 0;
    m->mdio_busy = 0;
    m->fifo_len = 0;
}

// ---- PHY (LAN8742A) ---------------------------------------------------------------------------

static void phy_defaults(stm32m_t *m) {
    m->bmcr = PHY_BMCR_SPEED100 | PHY_BMCR_ANEN | PHY_BMCR_FULLDPLX;
    m->anar = 0x01E1;
    m->smr = 0x00E0;
    m->imr = 0;
    m->isfr = 0;
}

static void phy_link_lost(stm32m_t *m) {
    if (m->link) {
        m->st.link_downs++;
        m->isfr |= 1u << 4;
    }
    m->link = 0;
    m->an_done = 0;
    m->an_left = PHY_AN_TICKS;
    m->link_latched_low = 1;
}

static void phy_restart_an(stm32m_t *m) {
    phy_link_lost(m);
}

static void phy_tick(stm32m_t *m) {
    if (m->cable && !m->flap_left && zcm_fault(&m->faults, ZCM_F_LINK_FLAP)) {
        m->flap_left = (int)(m->faults.link_down_steps ? m->faults.link_down_steps : 1);
        m->cable = 0;
    }
    if (m->flap_left && --m->flap_left == 0) {
        m->cable = 1;
    }
    if (m->phy_reset_left && --m->phy_reset_left == 0) {
        phy_defaults(m);
        phy_restart_an(m);
    }
    if (!m->cable || (m->bmcr & PHY_BMCR_PDOWN)) {
        phy_link_lost(m);
        return;
    }
    if (m->phy_reset_left || m->link) {
        return;
    }
    if (!(m->bmcr & PHY_BMCR_ANEN)) {
        m->link = 1;               // forced speed/duplex: link as soon as the cable is there
        m->st.link_ups++;
        return;
    }
    if (m->an_left > 0 && --m->an_left > 0) {
        return;
    }
    m->an_done = 1;
    m->link = 1;
    m->isfr |= 1u << 6;
    m->st.link_ups++;
}

static uint16_t phy_read(stm32m_t *m, unsigned pa, unsigned r) {
    if (pa != 0) {
        return 0xFFFF;             // nobody answers: MDIO floats high
    }
    switch (r) {
        case PHY_BMCR:
            return m->bmcr | (m->phy_reset_left ? PHY_BMCR_RESET : 0);
        case PHY_BMSR: {
            uint16_t v = 0x7809 | PHY_BMSR_ANABLE;   // 100/10 FD/HD, extended capabilities
            if (m->link && !m->link_latched_low) {
                v |= PHY_BMSR_LINK;
            }
            if (m->an_done) {
                v |= PHY_BMSR_ANDONE;
            }
            m->link_latched_low = 0;                 // latched low: cleared by the read
            return v;
        }
        case PHY_ID1:
            return (uint16_t)(PHY_LAN8742A_ID >> 16);
        case PHY_ID2:
            return (uint16_t)(PHY_LAN8742A_ID & 0xFFFF) | 1;
        case PHY_ANAR:
            return m->anar;
        case PHY_ANLPAR:
            return m->an_done ? 0x45E1 : 0;
        case PHY_ANER:
            return m->an_done ? 0x0001 : 0;
        case PHY_SMR:
            return m->smr;
        case PHY_ISFR: {
            uint16_t v = m->isfr;
            m->isfr = 0;
            return v;
        }
        case PHY_IMR:
            return m->imr;
        case PHY_PHYSCSR: {
            uint16_t v = 0x0040;
            if (m->an_done) {
                v |= PHY_PHYSCSR_AUTODONE | (6u << PHY_PHYSCSR_SPEED_SHIFT);   // 100 full
            } else if (m->link) {
                v |= ((m->bmcr & PHY_BMCR_SPEED100 ? 2u : 1u) | (m->bmcr & PHY_BMCR_FULLDPLX ? 4u : 0u))
                    << PHY_PHYSCSR_SPEED_SHIFT;
            }
            return v;
        }
        default:
            return 0;
    }
}

static void phy_write(stm32m_t *m, unsigned pa, unsigned r, uint16_t v) {
    if (pa != 0) {
        return;
    }
    switch (r) {
        case PHY_BMCR:
            if (v & PHY_BMCR_RESET) {
                m->phy_reset_left = PHY_RESET_TICKS;
                m->st.phy_resets++;
                phy_link_lost(m);
                return;
            }
            m->bmcr = v & (uint16_t) ~(PHY_BMCR_RESET | PHY_BMCR_ANRESTART);
            if (v & PHY_BMCR_ANRESTART) {
                phy_restart_an(m);
            }
            break;
        case PHY_ANAR:
            m->anar = v;
            break;
        case PHY_SMR:
            m->smr = v;
            break;
        case PHY_IMR:
            m->imr = v;
            break;
        default:
            break;
    }
}

// ---- cache discipline (maint configuration) ------------------------------------------------

static void cache_op(void *dev, int op, zcdma_addr_t a, size_t len) {
    stm32m_t *m = dev;
    if (!m->cache_checks || a == 0 || len == 0) {
        return;
    }
    zcdma_addr_t lo = a & ~(zcdma_addr_t)(ZCDMA_LINE - 1);
    zcdma_addr_t hi = (zcdma_addr_t)((a + len + ZCDMA_LINE - 1) & ~(zcdma_addr_t)(ZCDMA_LINE - 1));
    if (op == ZCDMA_OP_CLEAN) {
        crange_t *c = &m->tx_clean[m->tx_clean_next++ % CACHE_TRACK];
        c->a = lo;
        c->end = hi;
        c->state = 1;
    } else if (op == ZCDMA_OP_INVAL) {
        for (unsigned i = 0; i < CACHE_TRACK; i++) {
            crange_t *c = &m->rx_track[i];
            if (c->state != CS_NONE && c->a == lo && c->end == hi) {
                // after the DMA wrote it: the CPU may read it now; else armed for a write
                c->state = c->state == CS_WRITTEN ? CS_READ : CS_ARMED;
                return;
            }
        }
        crange_t *c = &m->rx_track[m->rx_track_next++ % CACHE_TRACK];
        c->a = lo;
        c->end = hi;
        c->state = CS_ARMED;
    }
}

// The DMA reads [a, a + n) of a TX buffer: a clean must have covered it.
static void check_tx_read(stm32m_t *m, zcdma_addr_t a, uint32_t n) {
    if (!m->cache_checks || n == 0) {
        return;
    }
    for (unsigned i = 0; i < CACHE_TRACK; i++) {
        crange_t *c = &m->tx_clean[i];
        if (c->state && c->a <= a && a + n <= c->end) {
            c->state = 0;
            return;
        }
    }
    m->st.tx_unclean++;
}

// The DMA writes [a, a + n) of an RX buffer: invalidated since its last write.
static void check_rx_write(stm32m_t *m, zcdma_addr_t a, uint32_t n) {
    if (!m->cache_checks || n == 0) {
        return;
    }
    for (unsigned i = 0; i < CACHE_TRACK; i++) {
        crange_t *c = &m->rx_track[i];
        if (c->state != CS_NONE && c->a <= a && a + n <= c->end) {
            if (c->state != CS_ARMED) {
                m->st.rx_unarmed++;
            }
            c->state = CS_WRITTEN;
            return;
        }
    }
    m->st.rx_unarmed++;
}

// ---- checksums: what the RX engine (IPCO) checks, what CIC inserts -------------------------

// Offset of the IPv4 header in a frame (after one optional VLAN tag), or 0.
static uint32_t ipv4_at(const uint8_t *f, uint32_t n) {
    uint32_t o = 12;
    if (n >= 18 && be16(f + 12) == 0x8100) {
        o = 16;
    }
    if (n < o + 2 + 20 || be16(f + o) != 0x0800 || (f[o + 2] >> 4) != 4) {
        return 0;
    }
    return o + 2;
}

static int l4_csum_offset(uint8_t proto) {
    return proto == 6 ? 16 : proto == 17 ? 6 : proto == 1 ? 2 : -1;
}

// RX verdict of the checksum engine for frame f (n bytes, no CRC): the
// RDES0 code bits (FT, IPHCE, PCE) and the enhanced RDES4.
static void rx_checksum(stm32m_t *m, const uint8_t *f, uint32_t n, uint32_t *st, uint32_t *rdes4) {
    *rdes4 = 0;
    uint32_t type = n >= 14 ? be16(f + 12) : 0;
    if (type < 0x600) {
        return;                                        // 000: IEEE 802.3 frame
    }
    if (!(m->maccr & ETH_MACCR_IPCO)) {
        *st |= ETH_RDES0_FT;
        return;
    }
    uint32_t ip = ipv4_at(f, n);
    if (ip == 0) {
        if (type == 0x86DD) {
            *st |= ETH_RDES0_PCE;                      // 001: IPv6 payload not checked here
            *rdes4 = ETH_RDES4_IPV6PR;
        } else {
            *st |= ETH_RDES0_IPHCE | ETH_RDES0_PCE;    // 011: neither IPv4 nor IPv6: bypassed
            *rdes4 = ETH_RDES4_IPCB;
        }
        return;
    }
    uint32_t hl = (f[ip] & 0xF) * 4u;
    uint32_t tot = be16(f + ip + 2);
    int hbad = hl < 20 || ip + hl > n || fold(sum16(f + ip, hl, 0)) != 0xFFFF;
    *rdes4 = ETH_RDES4_IPV4PR | (hbad ? ETH_RDES4_IPHE : 0);
    uint8_t proto = f[ip + 9];
    int frag = (be16(f + ip + 6) & 0x3FFF) != 0;
    int off = l4_csum_offset(proto);
    if (hbad || frag || off < 0 || tot < hl || ip + tot > n) {
        // payload not checked: a fragment, another protocol, or a bad header
        *st |= hbad ? (ETH_RDES0_FT | ETH_RDES0_IPHCE) : ETH_RDES0_PCE;
        return;
    }
    const uint8_t *l4 = f + ip + hl;
    uint32_t l4n = tot - hl;
    int pbad = 0;
    if (proto == 1) {
        pbad = fold(sum16(l4, l4n, 0)) != 0xFFFF;
        *rdes4 |= ETH_RDES4_IPPT_ICMP;
    } else if (l4n >= (uint32_t)off + 2) {
        if (proto == 17 && be16(l4 + 6) == 0) {
            pbad = 0;                                  // UDP without a checksum
        } else {
            uint32_t s = sum16(f + ip + 12, 8, proto + l4n);
            pbad = fold(sum16(l4, l4n, s)) != 0xFFFF;
        }
        *rdes4 |= proto == 6 ? ETH_RDES4_IPPT_TCP : ETH_RDES4_IPPT_UDP;
    } else {
        pbad = 1;
    }
    *rdes4 |= pbad ? ETH_RDES4_IPPE : 0;
    *st |= ETH_RDES0_FT | (pbad ? ETH_RDES0_PCE : 0);
}

// CIC insertion into the assembled frame (TSF set): what the hardware does,
// including on IPv4 fragments (ES0206: it corrupts them; the driver must not ask).
static void tx_insert(stm32m_t *m, uint8_t *f, uint32_t n, unsigned cic) {
    uint32_t ip = ipv4_at(f, n);
    if (cic == 0 || ip == 0) {
        return;
    }
    uint32_t hl = (f[ip] & 0xF) * 4u;
    if (hl < 20 || ip + hl > n) {
        return;
    }
    put16(f + ip + 10, 0);
    put16(f + ip + 10, (uint16_t) ~fold(sum16(f + ip, hl, 0)));
    m->st.tx_cic_frames++;
    if (cic < ETH_TDES0_CIC_PAYLOAD) {
        return;
    }
    uint8_t proto = f[ip + 9];
    int off = l4_csum_offset(proto);
    uint32_t tot = be16(f + ip + 2);
    if (off < 0 || tot < hl || ip + tot > n) {
        return;
    }
    if ((be16(f + ip + 6) & 0x3FFF) != 0) {
        m->st.cic_fragment++;      // the payload of a fragment is taken for a whole segment
    }
    uint8_t *l4 = f + ip + hl;
    uint32_t l4n = tot - hl;
    if (l4n < (uint32_t)off + 2) {
        return;
    }
    uint32_t s = 0;
    if (proto != 1) {
        if (cic == ETH_TDES0_CIC_FULL) {
            put16(l4 + off, 0);
            s = sum16(f + ip + 12, 8, proto + l4n);
        }
        // CIC 2: the field holds the pseudo-header sum software put there
    }
    // ICMP: no pseudo-header; its checksum field must be 0 (it is summed as found)
    uint16_t c = (uint16_t) ~fold(sum16(l4, l4n, s));
    if (proto == 17 && c == 0) {
        c = 0xFFFF;
    }
    put16(l4 + off, c);
}

// ---- RX engine ---------------------------------------------------------------------------------

static int unicast_match(stm32m_t *m, const uint8_t *da) {
    uint8_t mac[6] = {
        (uint8_t)m->maca0lr, (uint8_t)(m->maca0lr >> 8), (uint8_t)(m->maca0lr >> 16),
        (uint8_t)(m->maca0lr >> 24), (uint8_t)m->maca0hr, (uint8_t)(m->maca0hr >> 8),
    };
    return memcmp(mac, da, 6) == 0;
}

// Take one frame from the wire through the MAC into the FIFO. -1: nothing on
// the wire; 0: a frame was taken and dropped by the MAC; 1: it waits in the FIFO.
static int rx_pull(stm32m_t *m) {
    int r = zcm_wire_recv(&m->wire, m->fifo, ZCM_FRAME_MAX);
    if (r <= 0) {
        return -1;
    }
    uint32_t n = (uint32_t)r, st = 0;
    if (n > ZCM_FRAME_MAX) {
        n = ZCM_FRAME_MAX;         // cut by the receive watchdog
        st |= ETH_RDES0_RWT;
    }
    if (zcm_fault(&m->faults, ZCM_F_RX_DROP)) {
        m->st.rx_wire_drop++;
        return 0;
    }
    if (!m->link || !(m->maccr & ETH_MACCR_RE)) {
        m->st.rx_link_down++;
        return 0;
    }
    if (n < FRAME_MIN && !(m->dmaomr & ETH_DMAOMR_FUGF)) {
        m->st.rx_runt++;
        return 0;
    }
    if (n < 14) {
        m->st.rx_runt++;
        return 0;
    }
    if (!(m->macffr & (ETH_MACFFR_PM | ETH_MACFFR_RA))) {
        const uint8_t *da = m->fifo;
        int bcast = memcmp(da, "\xff\xff\xff\xff\xff\xff", 6) == 0;
        int pass = bcast ? !(m->macffr & ETH_MACFFR_BFD)
                   : (da[0] & 1) ? (m->macffr & ETH_MACFFR_PAM) != 0
                   : unicast_match(m, da);
        if (!pass) {
            m->st.rx_filtered++;
            return 0;
        }
    }
    if (zcm_fault(&m->faults, ZCM_F_RX_OVERRUN)) {
        // store and forward: the whole frame goes; MFA counts it
        if (m->mfa == 0x7FF) {
            m->ofoc = 1;
        }
        m->mfa = (m->mfa + 1) & 0x7FF;
        m->st.rx_fifo_overflow++;
        raise(m, ETH_DMASR_ROS);
        return 0;
    }
    int crc_bad = zcm_fault(&m->faults, ZCM_F_RX_CRC);
    if (zcm_fault(&m->faults, ZCM_F_RX_CORRUPT)) {
        m->fifo[14 + zcm_rand(&m->faults, n - 14)] ^= 0x20;   // past the header: still ours to deliver
    }
    uint32_t rdes4 = 0;
    rx_checksum(m, m->fifo, n, &st, &rdes4);
    if (crc_bad) {
        st |= ETH_RDES0_CE;
        m->mmc_rfce++;
        m->st.rx_crc_errors++;
        if (!(m->dmaomr & ETH_DMAOMR_FEF)) {
            m->st.rx_error_dropped++;
            return 0;
        }
    }
    int csum_err = (m->maccr & ETH_MACCR_IPCO)
                   && ((st & (ETH_RDES0_FT | ETH_RDES0_IPHCE)) == (ETH_RDES0_FT | ETH_RDES0_IPHCE)
                       || (st & (ETH_RDES0_FT | ETH_RDES0_PCE)) == (ETH_RDES0_FT | ETH_RDES0_PCE));
    if (csum_err && !(m->dmaomr & ETH_DMAOMR_DTCEFD)) {
        m->st.rx_csum_dropped++;
        return 0;
    }
    // CRC: stripped from type frames with CSTF; pad + CRC of short 802.3
    // frames with APCS; else it reaches the buffer and FL counts it.
    uint32_t type = be16(m->fifo + 12);
    int strip = (type >= 0x600 && (m->maccr & ETH_MACCR_CSTF));
    if (!strip && type <= 1500 && (m->maccr & ETH_MACCR_APCS)) {
        strip = 1;
        if (14 + type < n) {
            n = 14 + type;
        }
    }
    if (!strip) {
        uint32_t c = crc32(m->fifo, n) ^ (crc_bad ? 0xFFFFFFFFu : 0);
        m->fifo[n] = (uint8_t)c;
        m->fifo[n + 1] = (uint8_t)(c >> 8);
        m->fifo[n + 2] = (uint8_t)(c >> 16);
        m->fifo[n + 3] = (uint8_t)(c >> 24);
        n += 4;
    }
    if (!crc_bad && !(m->fifo[0] & 1)) {
        m->mmc_rguf++;
    }
    m->fifo_len = n;
    m->fifo_st = st;
    m->fifo_rdes4 = rdes4;
    return 1;
}

static zcdma_addr_t rx_next(stm32m_t *m, zcdma_addr_t at, const uint32_t *d) {
    if (d[1] & ETH_RDES1_RER) {
        return m->dmardlar;
    }
    if (d[1] & ETH_RDES1_RCH) {
        return d[3];
    }
    return at + desc_words(m) * 4u + dsl_bytes(m);
}

// Write the FIFO frame into descriptors from cur_rx (owned: checked). 1 done.
static int rx_deliver(stm32m_t *m, uint32_t *d) {
    zcdma_addr_t at = m->cur_rx;
    uint32_t pos = 0, n = m->fifo_len;
    int first = 1;
    m->rps = ETH_RPS_TRANSFERRING;
    for (;;) {
        int ring = !(d[1] & ETH_RDES1_RCH) || (d[1] & ETH_RDES1_RER);
        uint32_t rbs[2] = { d[1] & ETH_RDES1_RBS1_MASK, ring ? (d[1] & ETH_RDES1_RBS2_MASK) >> ETH_RDES1_RBS2_SHIFT : 0 };
        zcdma_addr_t buf[2] = { d[2], d[3] };
        for (int b = 0; b < 2 && pos < n; b++) {
            if (rbs[b] & 3u) {
                m->st.rbs_not_mult4++;
                rbs[b] &= ~3u;
            }
            if (rbs[b] == 0) {
                continue;
            }
            uint32_t k = n - pos < rbs[b] ? n - pos : rbs[b];
            uint8_t *h = zcdma_to_host(buf[b], k, 1);
            if (h == NULL) {
                bus_error(m, 0, 0, 0);
                return 1;
            }
            check_rx_write(m, buf[b], k);
            memcpy(h, m->fifo + pos, k);
            m->cur_rxbuf = buf[b] + k;
            pos += k;
        }
        uint32_t w0 = first ? ETH_RDES0_FS : 0;
        zcdma_addr_t next = rx_next(m, at, d);
        if (dsl_bytes(m) && ring) {
            m->st.dsl_nonzero_ring++;
        }
        if (pos >= n) {
            // last descriptor: LS, the length and the status
            w0 |= ETH_RDES0_LS | (n << ETH_RDES0_FL_SHIFT) | m->fifo_st;
            if (w0 & ETH_RDES0_ES_SRC) {
                w0 |= ETH_RDES0_ES;
            }
            if (m->dmabmr & ETH_DMABMR_EDFE) {
                // enhanced: bit 0 says RDES4 holds the extended status; bit 7 is TSV
                w0 &= ~(ETH_RDES0_PCE | ETH_RDES0_IPHCE);
                if (m->fifo_rdes4) {
                    w0 |= ETH_RDES0_ESA;
                }
                d[4] = m->fifo_rdes4;
            }
            int dic = (d[1] & ETH_RDES1_DIC) != 0;
            d[0] = w0;                                 // OWN cleared: the descriptor is the CPU's
            m->cur_rx = next;
            m->fifo_len = 0;
            m->st.rx_frames++;
            m->st.rx_bytes += n;
            m->rps = ETH_RPS_WAITING;
            if (!dic) {
                raise(m, ETH_DMASR_RS);
            }
            return 1;
        }
        // more to write: the next descriptor must be the DMA's
        uint32_t *nd = desc_at(m, next, 0);
        if (nd == NULL) {
            return 1;
        }
        if (!(nd[0] & ETH_RDES0_OWN)) {
            // DE: truncated here; the rest of the frame is flushed
            d[0] = w0 | ETH_RDES0_LS | ETH_RDES0_DE | ETH_RDES0_ES | (pos << ETH_RDES0_FL_SHIFT);
            m->cur_rx = next;
            m->fifo_len = 0;
            m->st.rx_truncated++;
            m->rps = ETH_RPS_SUSPENDED;
            m->st.rbus++;
            raise(m, ETH_DMASR_RS | ETH_DMASR_RBUS);
            return 1;
        }
        d[0] = w0;                                     // FS (maybe), no LS: OWN cleared
        at = next;
        d = nd;
        first = 0;
    }
}

static void rx_missed(stm32m_t *m) {
    if (m->mfc == 0xFFFF) {
        m->omfc = 1;
    }
    m->mfc = (m->mfc + 1) & 0xFFFF;
    m->st.rx_missed++;
    m->fifo_len = 0;
}

static int rx_step(stm32m_t *m) {
    if (m->fatal || !(m->dmaomr & ETH_DMAOMR_SR) || m->rps == ETH_RPS_STOPPED) {
        // a stopped DMA: the MAC still takes frames off the wire if enabled
        // and loses them (nothing to put them in)
        if (!m->fatal && !(m->dmaomr & ETH_DMAOMR_SR) && (m->maccr & ETH_MACCR_RE) && m->link) {
            if (zcm_wire_recv(&m->wire, m->fifo, ZCM_FRAME_MAX) > 0) {
                m->st.rx_fifo_overflow++;
                m->mfa = (m->mfa + 1) & 0x7FF;
                return 1;
            }
        }
        return 0;
    }
    int progress = 0;
    if (m->rps == ETH_RPS_SUSPENDED) {
        // frames wait on the wire while suspended (as behind PAUSE); a poll
        // demand re-fetches, and a still host-owned descriptor costs the head frame
        if (!m->rx_demand) {
            // a new frame into the empty FIFO re-fetches too; a descriptor
            // still host-owned leaves it waiting there (for the next demand)
            if (m->fifo_len) {
                return 0;
            }
            int r = rx_pull(m);
            if (r <= 0) {
                return r == 0;
            }
            progress = 1;
        }
        m->rx_demand = 0;
        uint32_t *d = desc_at(m, m->cur_rx, 0);
        if (d == NULL) {
            return 1;
        }
        if (!(d[0] & ETH_RDES0_OWN)) {
            if (m->fifo_len && !progress) {
                rx_missed(m);      // the poll demand found nothing: the head frame goes
                progress = 1;
            }
            m->st.rbus++;
            raise(m, ETH_DMASR_RBUS);
            return progress;
        }
        m->rps = ETH_RPS_WAITING;
    }
    m->rx_demand = 0;
    if (m->fifo_len == 0) {
        int r = rx_pull(m);
        if (r < 0) {
            m->rps = ETH_RPS_WAITING;
            return 0;
        }
        if (r == 0) {
            return 1;
        }
    }
    m->rps = ETH_RPS_FETCHING;
    uint32_t *d = desc_at(m, m->cur_rx, 0);
    if (d == NULL) {
        return 1;
    }
    if (!(d[0] & ETH_RDES0_OWN)) {
        m->rps = ETH_RPS_SUSPENDED;                    // the frame stays in the FIFO
        m->st.rbus++;
        raise(m, ETH_DMASR_RBUS);
        return 1;
    }
    return rx_deliver(m, d);
}

// ---- TX engine ---------------------------------------------------------------------------------

static zcdma_addr_t tx_next(stm32m_t *m, zcdma_addr_t at, const uint32_t *d) {
    if (d[0] & ETH_TDES0_TER) {
        return m->dmatdlar;        // TER beats TCH
    }
    if (d[0] & ETH_TDES0_TCH) {
        return d[3];
    }
    return at + desc_words(m) * 4u + dsl_bytes(m);
}

static void tx_suspend(stm32m_t *m) {
    if (m->tps != ETH_TPS_SUSPENDED) {
        m->st.tbus++;
    }
    m->tps = ETH_TPS_SUSPENDED;
    raise(m, ETH_DMASR_TBUS);
}

static int tx_step(stm32m_t *m) {
    if (m->fatal || !(m->dmaomr & ETH_DMAOMR_ST) || m->tps == ETH_TPS_STOPPED) {
        return 0;
    }
    if (m->tps == ETH_TPS_SUSPENDED) {
        if (!m->tx_demand) {
            return 0;
        }
    }
    m->tx_demand = 0;
    m->tps = ETH_TPS_FETCHING;
    // The frame's descriptors, FS to LS, all owned (store and forward: the
    // frame goes only whole; a descriptor not yet owned suspends, to resume
    // on a poll demand with nothing consumed).
    zcdma_addr_t at = m->cur_tx;
    unsigned nd = 0;
    uint32_t *d;
    for (;;) {
        d = desc_at(m, at, 1);
        if (d == NULL) {
            return 1;
        }
        if (!(d[0] & ETH_TDES0_OWN)) {
            tx_suspend(m);
            return 0;
        }
        if (nd == TX_DESC_MAX) {
            bus_error(m, 1, 1, 1);                      // a frame without LS runs away
            return 1;
        }
        m->txd[nd++] = at;
        if (d[0] & ETH_TDES0_LS) {
            break;
        }
        at = tx_next(m, at, d);
    }
    m->tps = ETH_TPS_READING;
    uint32_t *first = zcdma_to_host(m->txd[0], 16, 1);
    uint32_t ctl = first[0];
    if (!(ctl & ETH_TDES0_FS)) {
        m->st.tx_no_fs++;
    }
    uint32_t n = 0, st = 0;
    for (unsigned i = 0; i < nd; i++) {
        d = zcdma_to_host(m->txd[i], desc_words(m) * 4u, 1);
        int ring = !(d[0] & ETH_TDES0_TCH) || (d[0] & ETH_TDES0_TER);
        uint32_t tbs[2] = { d[1] & ETH_TDES1_TBS1_MASK, ring ? (d[1] & ETH_TDES1_TBS2_MASK) >> ETH_TDES1_TBS2_SHIFT : 0 };
        zcdma_addr_t buf[2] = { d[2], d[3] };
        for (int b = 0; b < 2; b++) {
            if (tbs[b] == 0) {
                continue;
            }
            const uint8_t *h = zcdma_to_host(buf[b], tbs[b], 0);
            if (h == NULL) {
                bus_error(m, 1, 1, 0);
                return 1;
            }
            check_tx_read(m, buf[b], tbs[b]);
            uint32_t k = tbs[b];
            if (n + k > ZCM_FRAME_MAX) {
                k = n < ZCM_FRAME_MAX ? ZCM_FRAME_MAX - n : 0;
                st |= ETH_TDES0_JT;                     // jabber: cut
            }
            memcpy(m->txf + n, h, k);
            n += k;
            m->cur_txbuf = buf[b] + tbs[b];
        }
    }
    // The MAC: checksums (only with the whole frame in the FIFO), pad, CRC.
    if (m->dmaomr & ETH_DMAOMR_TSF) {
        tx_insert(m, m->txf, n, (ctl & ETH_TDES0_CIC_MASK) >> ETH_TDES0_CIC_SHIFT);
    }
    if (n < FRAME_MIN && !(ctl & ETH_TDES0_DP)) {
        memset(m->txf + n, 0, FRAME_MIN - n);
        n = FRAME_MIN;
        m->st.tx_padded++;
    }
    // (The CRC the MAC appends is not carried: a TAP frame has no FCS.)
    int sent = 0;
    if (!(m->maccr & ETH_MACCR_TE)) {
        m->st.tx_link_down++;
    } else if (!m->link) {
        m->st.tx_link_down++;
        if (!(m->maccr & ETH_MACCR_DM)) {
            st |= ETH_TDES0_LCA | ETH_TDES0_NC;        // carrier checks: half duplex only
        }
    } else if (zcm_fault(&m->faults, ZCM_F_TX_DROP)) {
        m->st.tx_wire_drop++;
    } else {
        if (n > 14 && zcm_fault(&m->faults, ZCM_F_TX_CORRUPT)) {
            m->txf[14 + zcm_rand(&m->faults, n - 14)] ^= 0x20;
        }
        zcm_wire_send(&m->wire, m->txf, n);
        sent = 1;
    }
    if (sent) {
        m->st.tx_frames++;
        m->st.tx_bytes += n;
        m->mmc_tgfc++;
    }
    m->tps = ETH_TPS_CLOSING;
    if (st & ETH_TDES0_ES_SRC) {
        st |= ETH_TDES0_ES;
    }
    // Write back: OWN cleared on each, status on the last.
    uint32_t ic = 0;
    for (unsigned i = 0; i < nd; i++) {
        d = zcdma_to_host(m->txd[i], desc_words(m) * 4u, 1);
        uint32_t w0 = d[0] & ~(ETH_TDES0_OWN | ETH_TDES0_ES_SRC | ETH_TDES0_ES);
        if (i == nd - 1) {
            w0 |= st;
            ic = w0 & ETH_TDES0_IC;
            m->cur_tx = tx_next(m, m->txd[i], d);
        }
        d[0] = w0;
    }
    m->tps = ETH_TPS_FETCHING;
    if (ic) {
        raise(m, ETH_DMASR_TS);
    }
    return 1;
}

// ---- registers -------------------------------------------------------------------------------

static void mdio_complete(stm32m_t *m) {
    unsigned pa = (m->macmiiar & ETH_MACMIIAR_PA_MASK) >> ETH_MACMIIAR_PA_SHIFT;
    unsigned r = (m->macmiiar & ETH_MACMIIAR_MR_MASK) >> ETH_MACMIIAR_MR_SHIFT;
    if (m->macmiiar & ETH_MACMIIAR_MW) {
        phy_write(m, pa, r, (uint16_t)m->macmiidr);
        m->st.mdio_writes++;
    } else {
        m->macmiidr = phy_read(m, pa, r);
        m->st.mdio_reads++;
    }
    m->macmiiar &= ~ETH_MACMIIAR_MB;
}

static uint32_t mmc_read(stm32m_t *m, uint32_t *ctr) {
    uint32_t v = *ctr;
    if (m->mmccr & ETH_MMCCR_ROR) {
        *ctr = 0;
    }
    return v;
}

static uint32_t reg_rd(void *dev, uint32_t off) {
    stm32m_t *m = dev;
    switch (off) {
        case ETH_MACCR: return m->maccr;
        case ETH_MACFFR: return m->macffr;
        case ETH_MACHTHR: return m->machthr;
        case ETH_MACHTLR: return m->machtlr;
        case ETH_MACMIIAR:
            if (m->mdio_busy && --m->mdio_busy == 0) {
                mdio_complete(m);
            }
            return m->macmiiar;
        case ETH_MACMIIDR: return m->macmiidr & 0xFFFF;
        case ETH_MACFCR: return m->macfcr;
        case ETH_MACVLANTR: return m->macvlantr;
        case ETH_MACSR: return 0;
        case ETH_MACIMR: return m->macimr;
        case ETH_MACA0HR: return m->maca0hr | ETH_MACA0HR_MO;
        case ETH_MACA0LR: return m->maca0lr;
        case ETH_MACA1HR: return m->maca1hr;
        case ETH_MMCCR: return m->mmccr;
        case ETH_MMCTGFCR: return mmc_read(m, &m->mmc_tgfc);
        case ETH_MMCRFCECR: return mmc_read(m, &m->mmc_rfce);
        case ETH_MMCRFAECR: return mmc_read(m, &m->mmc_rfae);
        case ETH_MMCRGUFCR: return mmc_read(m, &m->mmc_rguf);
        case ETH_DMABMR:
            if (m->sr_busy && !m->sr_stuck && --m->sr_busy == 0) {
                m->dmabmr &= ~ETH_DMABMR_SR;
            }
            return m->dmabmr;
        case ETH_DMARDLAR: return m->dmardlar;
        case ETH_DMATDLAR: return m->dmatdlar;
        case ETH_DMASR:
            return (m->dmasr & (ETH_DMASR_W1C | ETH_DMASR_MMCS | ETH_DMASR_PMTS | ETH_DMASR_TSTS))
                   | ((uint32_t)m->rps << ETH_DMASR_RPS_SHIFT) | ((uint32_t)m->tps << ETH_DMASR_TPS_SHIFT)
                   | (m->dmasr & ETH_DMASR_FBES ? m->ebs : 0);
        case ETH_DMAOMR: return m->dmaomr;
        case ETH_DMAIER: return m->dmaier;
        case ETH_DMAMFBOCR: {
            uint32_t v = m->mfc | (m->omfc ? ETH_DMAMFBOCR_OMFC : 0)
                         | (m->mfa << ETH_DMAMFBOCR_MFA_SHIFT) | (m->ofoc ? ETH_DMAMFBOCR_OFOC : 0);
            m->mfc = m->mfa = 0;   // clear on read
            m->omfc = m->ofoc = 0;
            return v;
        }
        case ETH_DMARSWTR: return m->dmarswtr;
        case ETH_DMACHTDR: return m->cur_tx;
        case ETH_DMACHRDR: return m->cur_rx;
        case ETH_DMACHTBAR: return m->cur_txbuf;
        case ETH_DMACHRBAR: return m->cur_rxbuf;
        default: return 0;
    }
}

static void reg_wr(void *dev, uint32_t off, uint32_t v) {
    stm32m_t *m = dev;
    switch (off) {
        case ETH_MACCR: m->maccr = v; break;
        case ETH_MACFFR: m->macffr = v; break;
        case ETH_MACHTHR: m->machthr = v; break;
        case ETH_MACHTLR: m->machtlr = v; break;
        case ETH_MACMIIAR:
            if (m->mdio_busy) {
                break;                 // a write while busy is lost
            }
            m->macmiiar = v;
            if (v & ETH_MACMIIAR_MB) {
                m->mdio_busy = MDIO_BUSY_READS;
            }
            break;
        case ETH_MACMIIDR: m->macmiidr = v & 0xFFFF; break;
        case ETH_MACFCR: m->macfcr = v; break;
        case ETH_MACVLANTR: m->macvlantr = v; break;
        case ETH_MACIMR: m->macimr = v; break;
        case ETH_MACA0HR: m->maca0hr = v & 0xFFFF; break;
        case ETH_MACA0LR: m->maca0lr = v; break;
        case ETH_MACA1HR: m->maca1hr = v; break;
        case ETH_MMCCR:
            m->mmccr = v & ~ETH_MMCCR_CR;
            if (v & ETH_MMCCR_CR) {
                m->mmc_tgfc = m->mmc_rfce = m->mmc_rfae = m->mmc_rguf = 0;
            }
            break;
        case ETH_DMABMR:
            if (v & ETH_DMABMR_SR) {
                mac_dma_reset(m);
                m->dmabmr |= ETH_DMABMR_SR;
                m->sr_busy = SR_BUSY_READS;
                m->st.soft_resets++;
            } else {
                m->dmabmr = v;
            }
            break;
        case ETH_DMATPDR:
            if (m->lose_tx_demands) {
                m->lose_tx_demands--;
                break;
            }
            m->tx_demand = 1;
            break;
        case ETH_DMARPDR:
            m->rx_demand = 1;
            break;
        case ETH_DMARDLAR:
            if (v & 3u) {
                m->st.desc_unaligned++;
            }
            m->dmardlar = v;
            if (m->rps == ETH_RPS_STOPPED) {
                m->cur_rx = v;
                m->rx_loaded = 1;
            }
            break;
        case ETH_DMATDLAR:
            if (v & 3u) {
                m->st.desc_unaligned++;
            }
            m->dmatdlar = v;
            if (m->tps == ETH_TPS_STOPPED) {
                m->cur_tx = v;
                m->tx_loaded = 1;
            }
            break;
        case ETH_DMASR:
            m->dmasr &= ~(v & ETH_DMASR_W1C);
            summaries(m);
            break;
        case ETH_DMAOMR: {
            uint32_t was = m->dmaomr;
            m->dmaomr = v & ~(ETH_DMAOMR_FTF);         // FTF (flush) self-clears at once
            if ((v & ETH_DMAOMR_ST) && !(was & ETH_DMAOMR_ST) && !m->fatal) {
                if (!m->tx_loaded) {
                    m->cur_tx = m->dmatdlar;
                    m->tx_loaded = 1;
                }
                m->tps = ETH_TPS_FETCHING;
                m->tx_demand = 1;
            } else if (!(v & ETH_DMAOMR_ST) && (was & ETH_DMAOMR_ST)) {
                m->tps = ETH_TPS_STOPPED;
                raise(m, ETH_DMASR_TPSS);
            }
            if ((v & ETH_DMAOMR_SR) && !(was & ETH_DMAOMR_SR) && !m->fatal) {
                if (!m->rx_loaded) {
                    m->cur_rx = m->dmardlar;
                    m->rx_loaded = 1;
                }
                m->rps = ETH_RPS_FETCHING;
                m->rx_demand = 1;
            } else if (!(v & ETH_DMAOMR_SR) && (was & ETH_DMAOMR_SR)) {
                m->rps = ETH_RPS_STOPPED;
                raise(m, ETH_DMASR_RPSS);
            }
            break;
        }
        case ETH_DMAIER:
            m->dmaier = v & 0x0001E7FFu;
            summaries(m);
            break;
        case ETH_DMARSWTR: m->dmarswtr = v & 0xFF; break;
        default: break;
    }
}

// ---- stepping --------------------------------------------------------------------------------

void stm32m_step(void *dev) {
    stm32m_t *m = dev;
    phy_tick(m);
    rx_step(m);
    tx_step(m);
}

int stm32m_run(stm32m_t *m) {
    int work = 0;
    phy_tick(m);
    for (int i = 0; i < RUN_MAX_STEPS; i++) {
        int w = rx_step(m) + tx_step(m);
        if (!w) {
            break;
        }
        work += w;
    }
    return work;
}

// ---- life cycle and controls ---------------------------------------------------------------------

static const zcdma_dev_ops_t stm32m_ops = {
    .rd = reg_rd,
    .wr = reg_wr,
    .step = stm32m_step,
    .cache = cache_op,
};

stm32m_t *stm32m_open(int wire_tap, const char *tap, int attach, unsigned queue_depth,
    uint64_t seed, zcdma_addr_t *base_out, int *err) {
    crc_init();
    stm32m_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        *err = ENOMEM;
        return NULL;
    }
    m->irq.efd = m->irq.epfd = -1;
    int r = wire_tap ? zcm_wire_open_tap(&m->wire, tap, attach, m->tap_name, sizeof(m->tap_name))
                     : zcm_wire_open_queue(&m->wire, queue_depth);
    if (r < 0) {
        *err = -r;
        free(m);
        return NULL;
    }
    r = zcm_irq_open(&m->irq, m->wire.tap_fd);
    if (r < 0) {
        *err = -r;
        zcm_wire_close(&m->wire);
        free(m);
        return NULL;
    }
    zcm_faults_init(&m->faults, seed);
    m->base = zcdma_host_attach(ETH_BASE, ETH_WINDOW, &stm32m_ops, m);
    if (m->base == 0) {
        *err = EBUSY;
        zcm_irq_close(&m->irq);
        zcm_wire_close(&m->wire);
        free(m);
        return NULL;
    }
    mac_dma_reset(m);
    phy_defaults(m);
    m->cable = 1;
    m->an_left = PHY_AN_TICKS;
    *base_out = m->base;
    return m;
}

void stm32m_close(stm32m_t *m) {
    if (m == NULL) {
        return;
    }
    zcdma_host_detach(m);
    zcm_irq_close(&m->irq);
    zcm_wire_close(&m->wire);
    free(m);
}

const char *stm32m_tap_name(stm32m_t *m) {
    return m->tap_name;
}

unsigned stm32m_wire_pending(stm32m_t *m) {
    return zcm_wire_pending(&m->wire);
}

int stm32m_fileno(stm32m_t *m) {
    return m->irq.epfd;
}

void stm32m_irq_set(stm32m_t *m, int line) {
    zcm_irq_set(&m->irq, line);
}

int stm32m_inject(stm32m_t *m, const uint8_t *buf, size_t len) {
    return zcm_wire_inject(&m->wire, buf, len);
}

int stm32m_take(stm32m_t *m, uint8_t *buf, size_t max) {
    return zcm_wire_take(&m->wire, buf, max);
}

zcm_faults_t *stm32m_faults(stm32m_t *m) {
    return &m->faults;
}

void stm32m_link_set(stm32m_t *m, int up) {
    m->flap_left = 0;
    m->cable = up ? 1 : 0;
    if (!up) {
        phy_link_lost(m);
    }
}

void stm32m_cache_checks(stm32m_t *m, int on) {
    m->cache_checks = on;
}

void stm32m_reset_stuck(stm32m_t *m, int stuck) {
    m->sr_stuck = stuck;
    if (!stuck && m->sr_busy) {
        m->sr_busy = 1;
    }
}

uint32_t stm32m_reg_read(stm32m_t *m, uint32_t off) {
    return reg_rd(m, off);
}

void stm32m_reg_write(stm32m_t *m, uint32_t off, uint32_t v) {
    reg_wr(m, off, v);
}

void stm32m_lose_tx_demands(stm32m_t *m, unsigned n) {
    m->lose_tx_demands = n;
}

const stm32m_stats_t *stm32m_stats(stm32m_t *m) {
    return &m->st;
}

uint32_t stm32m_mmc(stm32m_t *m, uint32_t off) {
    switch (off) {
        case ETH_MMCTGFCR: return m->mmc_tgfc;
        case ETH_MMCRFCECR: return m->mmc_rfce;
        case ETH_MMCRFAECR: return m->mmc_rfae;
        case ETH_MMCRGUFCR: return m->mmc_rguf;
        default: return 0;
    }
}
#endif
