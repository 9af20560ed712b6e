// The portable core of the C6747 EMAC driver driven from C (its C API only,
// no MicroPython) against the behavioural model, with the real pool. Built
// and run by host_tests/c/test_c6747_core.py on both widths:
//
//   gcc -std=gnu99 -Wall -Wextra -Werror -DZCDMA_HOST=1 -DZCPOOL_NO_MP
//       -Idrivers/dma -Idrivers/pool -Idrivers/c6747_emac
//       drivers/c6747_emac/test/c6747_core_test.c drivers/c6747_emac/c6747_emac.c
//       drivers/c6747_emac/c6747_mdio.c drivers/c6747_emac/c6747_phy.c
//       drivers/c6747_emac/model/c6747_model.c drivers/dma/zcdma.c
//       drivers/dma/zcmodel.c drivers/pool/zcpool.c -o build/c6747_core_test
//
// Prints one line per test and "ALL PASSED"; exits 1 at the first failure.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c6747_emac.h"
#include "model/c6747_model.h"
#include "zcpool.h"

#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static const uint8_t ME[6] = { 2, 0, 0, 0, 0, 2 };
static const uint8_t PEER[6] = { 2, 0, 0, 0, 0, 1 };
static uint8_t rodata[512];          // mapped read-only: "bytes" pieces
static uint8_t wire[2048];

static void make_frame(uint8_t *b, const uint8_t *dst, uint32_t seq, unsigned n) {
    memcpy(b, dst, 6);
    memcpy(b + 6, PEER, 6);
    b[12] = 0x88;
    b[13] = 0xB5;
    b[14] = (uint8_t)(seq >> 24);
    b[15] = (uint8_t)(seq >> 16);
    b[16] = (uint8_t)(seq >> 8);
    b[17] = (uint8_t)seq;
    for (unsigned i = 18; i < n; i++) {
        b[i] = (uint8_t)(i + seq);
    }
}

static uint32_t seq_of(const uint8_t *b) {
    return (uint32_t)b[14] << 24 | (uint32_t)b[15] << 16 | (uint32_t)b[16] << 8 | b[17];
}

static void pump(c6747_emac_t *e, c6747_model_t *m) {
    c6747_model_run(m, 100000);
    if (c6747_model_irq_take(m)) {
        c6747_emac_isr(e);
    }
}

static c6747_model_t *open_pair(c6747_emac_t *e, c6747_cfg_t *cfg, uint32_t race, uint64_t seed) {
    int err = 0;
    c6747_model_t *m = c6747_model_new(NULL, 0, 256, seed, C6747M_PHY_KSZ8893, &err, NULL, 0);
    CHECK(m != NULL);
    memcpy(cfg->mac, ME, 6);
    CHECK(c6747_emac_init(e, m->base, cfg) == 0);
    if (race) {
        zcdma_host_race(m, race, seed * 31u + 5u);
    }
    return m;
}

static void close_pair(c6747_emac_t *e, c6747_model_t *m) {
    c6747_emac_close(e);
    c6747_model_free(m);
    CHECK(zcpool_nfree() == ZCPOOL_NBLOCKS);
    CHECK(zcpool_hnfree() == ZCPOOL_HNBLOCKS);
}

static void model_clean(const c6747_model_t *m) {
    CHECK(m->macstatus == 0 && !m->host_error && m->st[C6747M_HOST_ERRORS] == 0);
    CHECK(m->st[C6747M_HDP_WHILE_ACTIVE] == 0);
    CHECK(m->st[C6747M_TX_UNCLEAN] == 0 && m->st[C6747M_RX_UNINVALIDATED] == 0);
}

// Take every frame the driver has up: sequence numbers rising from *next
// (a gap only where the MAC counted an overrun: checked by the callers).
static unsigned rx_delivered;
static unsigned rx_take(c6747_emac_t *e, c6747_model_t *m, uint32_t *next, int budget) {
    int32_t out[3 * 64];
    pump(e, m);
    int n = c6747_emac_rx_poll(e, budget, out);
    CHECK(n >= 0);
    for (int k = 0; k < n; k++) {
        const uint8_t *p = zcpool_ptr(out[3 * k]) + ZCPOOL_FRAME_OFFSET;
        CHECK(seq_of(p) >= *next);
        *next = seq_of(p) + 1;
        rx_delivered++;
        CHECK(zcpool_free(out[3 * k]) == 0);
    }
    return (unsigned)n;
}

static void test_rx_tx_basic(void) {
    c6747_emac_t e;
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_n = 8;
    cfg.tx_n = 8;
    cfg.pad = C6747_ETH_ZLEN;
    c6747_model_t *m = open_pair(&e, &cfg, 0, 1);
    uint8_t f[1600];
    uint32_t next = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        make_frame(f, ME, i, 60 + i % 1400);
        CHECK(zcm_wire_inject(&m->wire, f, 60 + i % 1400) == 0);
        if (i % 5 == 4) {
            while (rx_take(&e, m, &next, 8)) {
            }
        }
    }
    while (rx_take(&e, m, &next, 8)) {
    }
    CHECK(next == 2000 && rx_delivered == 2000 && e.st[C6747_ST_RX_FRAMES] == 2000);
    // TX: a header block + a pool block, and a short frame padded.
    for (uint32_t i = 0; i < 2000; i++) {
        unsigned n = 20 + (i * 13) % 1400;
        int h = zcpool_alloc_hdr(ZCPOOL_H_TX), b = zcpool_alloc(ZCPOOL_H_TX);
        CHECK(h >= 0 && b >= 0);
        make_frame(f, PEER, i, n);
        memcpy(zcpool_ptr(h), f, 14);
        memcpy(zcpool_ptr(b), f + 14, n - 14);
        c6747_seg_t s[2] = {
            { zcpool_ptr(h), zcdma_to_bus(zcpool_ptr(h), 14), 14, (int16_t)h },
            { zcpool_ptr(b), zcdma_to_bus(zcpool_ptr(b), n - 14), (uint16_t)(n - 14), (int16_t)b },
        };
        CHECK(c6747_emac_tx(&e, s, 2, (int32_t)i) >= 0);   // the core owns both references now
        c6747_emac_tx_kick(&e, NULL, NULL);
        pump(&e, m);
        int32_t ck[4];
        CHECK(c6747_emac_tx_reap(&e, ck, NULL, 4) == 1 && ck[0] == (int32_t)i);
        int got = zcm_wire_take(&m->wire, wire, sizeof(wire));
        unsigned want = n < 60 ? 60 : n;
        CHECK(got == (int)want && memcmp(wire, f, n) == 0);
        for (unsigned k = n; k < want; k++) {
            CHECK(wire[k] == 0);
        }
    }
    CHECK(e.st[C6747_ST_TX_FRAMES] == 2000 && e.st[C6747_ST_TX_COPIED_BYTES] == 0 && e.st[C6747_ST_RX_COPIED_BYTES] == 0);
    model_clean(m);
    close_pair(&e, m);
    printf("PASS rx_tx_basic\n");
}

static void test_race(void) {
    c6747_emac_t e;
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_n = 4;
    cfg.tx_n = 4;
    cfg.rx_maxlen = 1518;
    c6747_model_t *m = open_pair(&e, &cfg, 300000, 9);
    uint8_t f[128];
    rx_delivered = 0;
    uint32_t rx_next = 0, tx_sent = 0, tx_seen = 0, injected = 0, cookies = 0;
    for (int it = 0; it < 20000 && (rx_delivered + e.st[C6747_ST_RX_SOF_OVERRUNS] < 3000 || cookies < 3000); it++) {
        for (int k = 0; k < 3 && injected < 3000; k++) {
            make_frame(f, ME, injected, 64);
            if (zcm_wire_inject(&m->wire, f, 64) == 0) {
                injected++;
            }
        }
        for (int k = 0; k < 2 && tx_sent < 3000; k++) {
            // eight buffers for at most four frames in flight
            uint8_t *buf = rodata + (tx_sent % 8u) * 64u;
            make_frame(buf, PEER, tx_sent, 64);
            c6747_seg_t s[2] = { { buf, zcdma_to_bus(buf, 30), 30, -1 },
                                 { buf + 30, zcdma_to_bus(buf + 30, 34), 34, -1 } };
            int r = c6747_emac_tx(&e, s, 2, (int32_t)tx_sent);
            if (r == -105) {
                break;
            }
            CHECK(r >= 0);
            tx_sent++;
            c6747_emac_tx_kick(&e, NULL, NULL);     // appends to a live queue
            c6747_model_run(m, 1);
        }
        if (it & 1) {
            pump(&e, m);
        }
        int32_t ck[8];
        int n = c6747_emac_tx_reap(&e, ck, NULL, 8);
        for (int j = 0; j < n; j++) {
            CHECK(ck[j] == (int32_t)cookies);
            cookies++;
        }
        int got;
        while ((got = zcm_wire_take(&m->wire, wire, sizeof(wire))) > 0) {
            CHECK(got == 64 && seq_of(wire) == tx_seen);
            tx_seen++;
        }
        uint32_t before = rx_next;
        rx_take(&e, m, &rx_next, 2);
        // a frame lost to an empty ring is a counted overrun, never a gap
        (void)before;
    }
    CHECK(cookies == 3000 && tx_seen == 3000);
    // every frame delivered once, in order (rising sequence numbers, 3000 of them)
    CHECK(rx_delivered == 3000 && e.st[C6747_ST_RX_SOF_OVERRUNS] == 0 && m->st[C6747M_RX_NO_DESC] == 0);
    CHECK(zcdma_host_stats.races > 1000);
    CHECK(e.st[C6747_ST_RX_RESTARTS] + e.st[C6747_ST_TX_RESTARTS] > 0);
    CHECK(e.st[C6747_ST_RX_REQUEUES] > 0 && e.st[C6747_ST_TX_REQUEUES] > 0);
    printf("  race: restarts rx %u tx %u, requeues rx %u tx %u, overruns %u\n",
        (unsigned)e.st[C6747_ST_RX_RESTARTS], (unsigned)e.st[C6747_ST_TX_RESTARTS],
        (unsigned)e.st[C6747_ST_RX_REQUEUES], (unsigned)e.st[C6747_ST_TX_REQUEUES],
        (unsigned)e.st[C6747_ST_RX_SOF_OVERRUNS]);
    model_clean(m);
    close_pair(&e, m);
    printf("PASS race\n");
}

static uint32_t rng_s = 2463534242u;
static uint32_t rnd(uint32_t n) {
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 17;
    rng_s ^= rng_s << 5;
    return rng_s % n;
}

static void test_property_chains(void) {
    c6747_emac_t e;
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_n = 4;
    cfg.tx_n = 8;
    cfg.tx_desc = 12;
    cfg.pad = C6747_ETH_ZLEN;
    c6747_model_t *m = open_pair(&e, &cfg, 0, 3);
    int blk = zcpool_alloc(ZCPOOL_H_TX);
    CHECK(blk >= 0);
    for (unsigned i = 0; i < ZCPOOL_BLOCK_SIZE; i++) {
        zcpool_ptr(blk)[i] = (uint8_t)(i * 7);
    }
    static uint8_t expect[8][128];
    static unsigned expect_len[8];
    unsigned sent = 0, reaped = 0, enobufs = 0, refused = 0;
    for (int it = 0; it < 3000; it++) {
        c6747_seg_t s[16];
        unsigned n = 1 + rnd(16), total = 0;
        uint8_t data[128];
        for (unsigned k = 0; k < n; k++) {
            unsigned ln = rnd(4) == 0 ? 0 : rnd(8);
            unsigned off = rnd(200);
            const uint8_t *p = rnd(2) ? zcpool_ptr(blk) + off : rodata + off;
            s[k].ptr = p;
            s[k].len = (uint16_t)ln;
            s[k].bus = zcdma_to_bus(p, ln ? ln : 1);
            s[k].blk = -1;
            if (p != rodata + off) {
                CHECK(zcpool_ref(blk) > 0);
                s[k].blk = (int16_t)blk;
            }
            memcpy(data + total, p, ln);
            total += ln;
        }
        int r = c6747_emac_tx(&e, s, (int)n, (int32_t)sent);
        if (r < 0) {
            for (unsigned k = 0; k < n; k++) {
                if (s[k].blk >= 0) {
                    zcpool_free(blk);                 // refused: ours again
                }
            }
            if (r == -105) {
                enobufs++;
            } else {
                CHECK(r == -22);
                refused++;
            }
        } else {
            unsigned slot = sent % 8;
            memcpy(expect[slot], data, total);
            expect_len[slot] = total < 60 ? 60 : total;
            memset(expect[slot] + total, 0, expect_len[slot] - total);
            sent++;
        }
        if (r < 0 || rnd(3) == 0) {
            c6747_emac_tx_kick(&e, NULL, NULL);
            pump(&e, m);
            int32_t ck[8];
            int k = c6747_emac_tx_reap(&e, ck, NULL, 8);
            for (int j = 0; j < k; j++) {
                CHECK(ck[j] == (int32_t)reaped);
                int got = zcm_wire_take(&m->wire, wire, sizeof(wire));
                CHECK(got == (int)expect_len[reaped % 8]);
                CHECK(memcmp(wire, expect[reaped % 8], (size_t)got) == 0);
                reaped++;
            }
        }
        CHECK(m->macstatus == 0 && !m->host_error);
    }
    for (int it = 0; it < 10 && reaped < sent; it++) {
        c6747_emac_tx_kick(&e, NULL, NULL);
        pump(&e, m);
        int32_t ck[8];
        int k = c6747_emac_tx_reap(&e, ck, NULL, 8);
        for (int j = 0; j < k; j++) {
            int got = zcm_wire_take(&m->wire, wire, sizeof(wire));
            CHECK(got == (int)expect_len[reaped % 8] && memcmp(wire, expect[reaped % 8], (size_t)got) == 0);
            reaped++;
        }
    }
    CHECK(reaped == sent && sent > 500 && enobufs > 0 && refused > 0);
    CHECK(zcpool_refcnt(blk) == 1);
    zcpool_free(blk);
    model_clean(m);
    close_pair(&e, m);
    printf("PASS property_chains (%u sent, %u ENOBUFS, %u refused)\n", sent, enobufs, refused);
}

static void test_teardown_and_host_error(void) {
    c6747_emac_t e;
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_n = 6;
    cfg.tx_n = 8;
    cfg.pad = C6747_ETH_ZLEN;
    c6747_model_t *m = open_pair(&e, &cfg, 0, 4);
    uint8_t f[100];
    // host error: every DMA access fails once
    m->faults.rate[ZCM_F_BUS_ERROR] = 1000000;
    int b = zcpool_alloc(ZCPOOL_H_TX);
    make_frame(zcpool_ptr(b), PEER, 1, 100);
    c6747_seg_t s = { zcpool_ptr(b), zcdma_to_bus(zcpool_ptr(b), 100), 100, (int16_t)b };
    CHECK(zcpool_ref(b) == 2);                        // one for the core
    CHECK(c6747_emac_tx(&e, &s, 1, 7) >= 0);
    c6747_emac_tx_kick(&e, NULL, NULL);
    pump(&e, m);
    m->faults.rate[ZCM_F_BUS_ERROR] = 0;
    int32_t ck[4];
    CHECK(c6747_emac_tx_reap(&e, ck, NULL, 4) == 1 && ck[0] == 7);
    CHECK(e.st[C6747_ST_HOST_ERRORS] == 1 && e.st[C6747_ST_RECOVERIES] == 1 && e.st[C6747_ST_RECOVERED_TX] == 1);
    CHECK(!m->host_error && zcpool_refcnt(b) == 1 && zcpool_nfree() == ZCPOOL_NBLOCKS - 7);
    // teardown with frames in flight, both ways
    m->hold = 1;
    for (int i = 0; i < 5; i++) {
        CHECK(zcpool_ref(b) > 0);
        CHECK(c6747_emac_tx(&e, &s, 1, i) >= 0);
        make_frame(f, ME, (uint32_t)i, 100);
        CHECK(zcm_wire_inject(&m->wire, f, 100) == 0);
    }
    c6747_emac_tx_kick(&e, NULL, NULL);
    m->hold = 0;
    c6747_model_run(m, 5);
    CHECK(zcpool_refcnt(b) == 6);
    c6747_emac_close(&e);
    CHECK(zcpool_refcnt(b) == 1 && e.st[C6747_ST_TX_TEARDOWN_DROPPED] > 0 && e.st[C6747_ST_TEARDOWN_TIMEOUTS] == 0);
    CHECK(m->st[C6747M_TX_TEARDOWNS] == 1 && m->st[C6747M_RX_TEARDOWNS] == 1);
    zcpool_free(b);
    c6747_model_free(m);
    CHECK(zcpool_nfree() == ZCPOOL_NBLOCKS && zcpool_hnfree() == ZCPOOL_HNBLOCKS);
    printf("PASS teardown_and_host_error\n");
}

static void test_starvation_and_phy(void) {
    c6747_emac_t e;
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.rx_n = 4;
    cfg.tx_n = 2;
    int err = 0;
    c6747_model_t *m = c6747_model_new(NULL, 0, 64, 5, C6747M_PHY_LAN8710A, &err, NULL, 0);
    CHECK(m != NULL);
    memcpy(cfg.mac, ME, 6);
    CHECK(c6747_emac_init(&e, m->base, &cfg) == 0);
    CHECK(e.phy_kind == C6747_PHY_LAN8710A && e.phy_addr == 1);
    int up, speed, full;
    m->speed100 = 0;
    m->full = 0;
    c6747_emac_link(&e, &up, &speed, &full);
    CHECK(up == 1 && speed == 10 && full == 0 && !(e.maccontrol & MACCONTROL_RMIISPEED));
    c6747_model_link_set(m, 0);
    c6747_emac_link(&e, &up, &speed, &full);
    CHECK(up == 0 && e.st[C6747_ST_LINK_CHANGES] == 2);
    c6747_model_link_set(m, 1);
    m->speed100 = 1;
    m->full = 1;
    c6747_emac_link(&e, &up, &speed, &full);
    CHECK(up == 1 && speed == 100 && full == 1 && (e.maccontrol & (MACCONTROL_RMIISPEED | MACCONTROL_FULLDUPLEX)));
    // starvation: the pool empty, every frame dropped and its descriptor recycled
    int held[ZCPOOL_NBLOCKS];
    int nh = 0, bb;
    while ((bb = zcpool_alloc(ZCPOOL_H_RX)) >= 0) {
        held[nh++] = bb;
    }
    uint8_t f[80];
    uint32_t next = 0;
    for (uint32_t i = 0; i < 9; i++) {
        make_frame(f, ME, i, 80);
        CHECK(zcm_wire_inject(&m->wire, f, 80) == 0);
    }
    for (int k = 0; k < 10; k++) {
        CHECK(rx_take(&e, m, &next, 8) == 0);
    }
    CHECK(e.st[C6747_ST_RX_NO_BUFFER] == 9 && e.rx_qcount == 4);
    while (nh) {
        zcpool_free(held[--nh]);
    }
    next = 100;
    for (uint32_t i = 100; i < 110; i++) {
        make_frame(f, ME, i, 80);
        CHECK(zcm_wire_inject(&m->wire, f, 80) == 0);
    }
    for (int k = 0; k < 10; k++) {
        rx_take(&e, m, &next, 8);
    }
    CHECK(next == 110);
    model_clean(m);
    close_pair(&e, m);
    printf("PASS starvation_and_phy\n");
}

// The model itself: a malformed chain written straight into CPPI RAM is
// refused with the MACSTATUS code SPRUFL5 gives, raises host error and stops
// the DMA; a soft reset clears it. (So "MACSTATUS stays 0" in the tests
// above is a check that can fail.)
static void test_model_rejects_malformed_chains(void) {
    enum { BAD_SOP, BAD_OWNER, BAD_NOEOP, BAD_PTR, BAD_LEN, BAD_PKTLEN, BAD_RX_OWNER, NCASES };
    static const uint32_t want[NCASES] = { HOSTERR_SOP, HOSTERR_OWNERSHIP, HOSTERR_NOEOP, HOSTERR_ZEROPTR,
                                           HOSTERR_ZEROLEN, HOSTERR_PKTLEN, HOSTERR_OWNERSHIP };
    int b = zcpool_alloc(ZCPOOL_H_TX);
    CHECK(b >= 0);
    zcdma_addr_t buf = zcdma_to_bus(zcpool_ptr(b), 100);
    for (int c = 0; c < NCASES; c++) {
        int err = 0;
        c6747_model_t *m = c6747_model_new(NULL, 0, 8, 1, C6747M_PHY_NONE, &err, NULL, 0);
        CHECK(m != NULL);
        zcdma_addr_t em = m->base + C6747_EMAC_OFF, d0 = m->base, d1 = m->base + 16;
        zcdma_wr32(em + EMAC_MACCONTROL, MACCONTROL_GMIIEN);
        zcdma_wr32(em + EMAC_MACINTMASKSET, MACINT_HOSTPEND);
        zcdma_wr32(em + EMAC_TXCONTROL, TXCONTROL_TXEN);
        zcdma_wr32(em + EMAC_RXCONTROL, RXCONTROL_RXEN);
        // a good two-descriptor packet of 60 + 40 bytes, then spoil one field
        uint32_t w0 = d1, w3 = DESC_SOP | DESC_OWNER | 100u, e3 = DESC_EOP, l0 = 60, l1 = 40, p0 = buf;
        switch (c) {
            case BAD_SOP: w3 &= ~DESC_SOP; break;
            case BAD_OWNER: w3 &= ~DESC_OWNER; break;
            case BAD_NOEOP: e3 = 0; break;
            case BAD_PTR: p0 = 0; break;
            case BAD_LEN: l0 = 0; w3 = DESC_SOP | DESC_OWNER | 40u; break;
            case BAD_PKTLEN: w3 = DESC_SOP | DESC_OWNER | 99u; break;
            default: break;
        }
        zcdma_wr32(d0 + DESC_NEXT, w0);
        zcdma_wr32(d0 + DESC_BUFPTR, p0);
        zcdma_wr32(d0 + DESC_OFFLEN, l0);
        zcdma_wr32(d0 + DESC_FLAGLEN, w3);
        zcdma_wr32(d1 + DESC_NEXT, 0);
        zcdma_wr32(d1 + DESC_BUFPTR, buf + 60);
        zcdma_wr32(d1 + DESC_OFFLEN, l1);
        zcdma_wr32(d1 + DESC_FLAGLEN, e3);
        uint32_t shift = MACSTATUS_TXERRCODE_SHIFT;
        if (c == BAD_RX_OWNER) {
            zcdma_wr32(d0 + DESC_FLAGLEN, 0);             // an RX descriptor not given to the EMAC
            zcdma_wr32(d0 + DESC_OFFLEN, 1598);
            zcdma_wr32(d0 + DESC_NEXT, 0);
            zcdma_wr32(em + EMAC_RXMBPENABLE, RXMBPENABLE_RXCAFEN);
            zcdma_wr32(em + EMAC_RXnHDP(0), d0);
            uint8_t f[64] = { 0 };
            CHECK(zcm_wire_inject(&m->wire, f, 64) == 0);
            shift = MACSTATUS_RXERRCODE_SHIFT;
        } else {
            zcdma_wr32(em + EMAC_TXnHDP(0), d0);
        }
        c6747_model_run(m, 100);
        uint32_t st = zcdma_rd32(em + EMAC_MACSTATUS);
        CHECK(((st >> shift) & 0xFu) == want[c]);
        CHECK(zcdma_rd32(em + EMAC_MACINVECTOR) & MACINVECTOR_HOSTPEND);
        CHECK(m->st[C6747M_TX_PACKETS] == 0 && zcm_wire_take(&m->wire, wire, sizeof(wire)) == 0);
        // nothing was cleaned or invalidated here: a buffer the DMA touched is flagged
        CHECK(c == BAD_SOP || c == BAD_OWNER || c == BAD_PTR || c == BAD_LEN || c == BAD_RX_OWNER
              || m->st[C6747M_TX_UNCLEAN] + m->st[C6747M_RX_UNINVALIDATED] > 0);
        zcdma_wr32(em + EMAC_SOFTRESET, SOFTRESET_SOFTRESET);
        CHECK((zcdma_rd32(em + EMAC_MACSTATUS) & ~MACSTATUS_IDLE) == 0);
        c6747_model_free(m);
    }
    zcpool_free(b);
    printf("PASS model_rejects_malformed_chains\n");
}

int main(void) {
    zcpool_init();
    for (unsigned i = 0; i < sizeof(rodata); i++) {
        rodata[i] = (uint8_t)(i * 13);
    }
    CHECK(zcdma_map(rodata, sizeof(rodata), ZCDMA_RAM_RO) != 0);
    CHECK(zcdma_map(zcpool_ptr(0), (size_t)ZCPOOL_NBLOCKS * ZCPOOL_BLOCK_SIZE, ZCDMA_RAM_RW) != 0);
    CHECK(zcdma_map(zcpool_ptr(ZCPOOL_NBLOCKS), (size_t)ZCPOOL_HNBLOCKS * ZCPOOL_HDR_SIZE, ZCDMA_RAM_RW) != 0);
    test_model_rejects_malformed_chains();
    test_rx_tx_basic();
    test_race();
    test_property_chains();
    test_teardown_and_host_error();
    test_starvation_and_phy();
    printf("ALL PASSED\n");
    return 0;
}
