// The shared DMA layer's host side on its own: the bus map, the simulated
// bus with its seeded race points, the cache/barrier hooks, and the model
// harness (queue wire, faults, interrupt line). Built and run for both
// widths by host_tests/unit/test_zcdma_c_cpy.py; prints "N passed, 0 failed".
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "zcdma.h"
#include "zcmodel.h"

static int passed, failed;
#define CHECK(c) do { if (c) { passed++; } else { failed++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)

// A device with 64 registers that counts its steps and cache calls.
typedef struct {
    uint32_t reg[64];
    uint32_t steps, cleans, invals, barriers;
    zcdma_addr_t last_clean;
    size_t last_len;
} fake_t;

static uint32_t fake_rd(void *d, uint32_t off) {
    return ((fake_t *)d)->reg[off / 4];
}
static void fake_wr(void *d, uint32_t off, uint32_t v) {
    ((fake_t *)d)->reg[off / 4] = v;
}
static void fake_step(void *d) {
    ((fake_t *)d)->steps++;
}
static void fake_cache(void *d, int op, zcdma_addr_t a, size_t len) {
    fake_t *f = d;
    if (op == ZCDMA_OP_CLEAN) {
        f->cleans++;
        f->last_clean = a;
        f->last_len = len;
    } else if (op == ZCDMA_OP_INVAL) {
        f->invals++;
    } else {
        f->barriers++;
    }
}
static const zcdma_dev_ops_t fake_ops = { fake_rd, fake_wr, fake_step, fake_cache };

static uint8_t rw_area[4096] __attribute__((aligned(32)));
static const uint8_t ro_area[256] = { 1, 2, 3, 4 };

static void test_map(void) {
    zcdma_addr_t a = zcdma_map(rw_area, sizeof(rw_area), ZCDMA_RAM_RW);
    zcdma_addr_t b = zcdma_map(ro_area, sizeof(ro_area), ZCDMA_RAM_RO);
    CHECK(a != 0 && b != 0 && a != b);
    CHECK(a != (zcdma_addr_t)(uintptr_t)rw_area);            // a window, not the host address
    CHECK(zcdma_map(rw_area, sizeof(rw_area), ZCDMA_RAM_RW) == a);   // idempotent
    CHECK(zcdma_map(rw_area + 8, 64, ZCDMA_RAM_RW) == 0);    // overlaps: refused
    CHECK((a & 31u) == ((uintptr_t)rw_area & 31u));          // alignment kept
    CHECK(zcdma_to_bus(rw_area + 100, 50) == a + 100);
    CHECK(zcdma_to_bus(rw_area + 4090, 10) == 0);            // runs past the end
    CHECK(zcdma_to_bus(&passed, 4) == 0);                    // never mapped
    CHECK(zcdma_to_host(a + 100, 50, 1) == rw_area + 100);
    CHECK(zcdma_to_host(b, 4, 0) == ro_area);
    CHECK(zcdma_to_host(b, 4, 1) == NULL);                   // the DMA may not write it
    CHECK(zcdma_to_host(a + 4096, 1, 0) == NULL);
    CHECK(zcdma_to_host(0x40028000u, 4, 0) == NULL);
}

static void test_bus(void) {
    static fake_t f1, f2;
    zcdma_addr_t b1 = zcdma_host_attach(0x40028000u, 0x100, &fake_ops, &f1);
    zcdma_addr_t b2 = zcdma_host_attach(0x40028000u, 0x100, &fake_ops, &f2);
    CHECK(b1 == 0x40028000u);
    CHECK(b2 != 0 && b2 != b1);                              // a second instance elsewhere
    zcdma_host_stats_t s0 = zcdma_host_stats;
    zcdma_wr32(b1 + 8, 0x1234);
    zcdma_wr32(b2 + 8, 0x5678);
    CHECK(f1.reg[2] == 0x1234 && f2.reg[2] == 0x5678);
    CHECK(zcdma_rd32(b2 + 8) == 0x5678);
    // Descriptor words in mapped RAM go through the same layer.
    zcdma_addr_t d = zcdma_to_bus(rw_area, 16);
    zcdma_wr32(d + 4, 0xCAFEF00Du);
    uint32_t w;
    memcpy(&w, rw_area + 4, 4);
    CHECK(w == 0xCAFEF00Du && zcdma_rd32(d + 4) == 0xCAFEF00Du);
    CHECK(zcdma_host_stats.writes - s0.writes == 3 && zcdma_host_stats.reads - s0.reads == 2);
    // Nowhere: counted, reads all ones; a CPU write to read-only data too.
    zcdma_addr_t ro = zcdma_to_bus(ro_area, 4);
    CHECK(zcdma_rd32(0x10000000u) == 0xFFFFFFFFu);
    zcdma_wr32(ro, 7);
    CHECK(ro_area[0] == 1);
    CHECK(zcdma_host_stats.bad_access - s0.bad_access == 2);
    CHECK(zcdma_rd32(ro) == 0x04030201u);                    // reading it is fine

    // Race points: never at 0, before every access at 1e6, and the same
    // sequence for the same seed.
    CHECK(f1.steps == 0);
    zcdma_host_race(&f1, 1000000u, 5);
    uint32_t r0 = zcdma_host_stats.races;
    for (int i = 0; i < 10; i++) {
        (void)zcdma_rd32(b2);
    }
    CHECK(f1.steps == 10 && f2.steps == 0 && zcdma_host_stats.races - r0 == 10);
    uint32_t seq[2];
    for (int run = 0; run < 2; run++) {
        f1.steps = 0;
        zcdma_host_race(&f1, 300000u, 42);
        for (int i = 0; i < 1000; i++) {
            (void)zcdma_rd32(b1);
        }
        seq[run] = f1.steps;
    }
    CHECK(seq[0] == seq[1] && seq[0] > 200 && seq[0] < 400);
    zcdma_host_race(&f1, 0, 0);

    // Cache and barrier calls reach the device with bus addresses.
    zcdma_host_stats_t s1 = zcdma_host_stats;
    zcdma_cache_clean(rw_area + 64, 100);
    zcdma_cache_inval(rw_area, 64);
    zcdma_wmb();
    zcdma_rmb();
    CHECK(f1.cleans == 1 && f1.last_clean == zcdma_to_bus(rw_area + 64, 100) && f1.last_len == 100);
    CHECK(f1.invals == 1 && f1.barriers == 2 && f2.cleans == 1);
    CHECK(zcdma_host_stats.cleans - s1.cleans == 1 && zcdma_host_stats.invals - s1.invals == 1);
    CHECK(zcdma_host_stats.wmbs - s1.wmbs == 1 && zcdma_host_stats.rmbs - s1.rmbs == 1);

    zcdma_host_detach(&f1);
    zcdma_host_detach(&f2);
    CHECK(zcdma_rd32(b1 + 8) == 0xFFFFFFFFu);
}

static void test_wire(void) {
    zcm_wire_t w;
    CHECK(zcm_wire_open_queue(&w, 2) == 0);
    uint8_t f[64], g[64];
    for (int i = 0; i < 64; i++) {
        f[i] = (uint8_t)i;
    }
    CHECK(zcm_wire_inject(&w, f, 60) == 0 && zcm_wire_inject(&w, f + 1, 61) == 0);
    CHECK(zcm_wire_inject(&w, f, 60) == -ENOBUFS && w.queue_full == 1);
    CHECK(zcm_wire_pending(&w) == 2);
    CHECK(zcm_wire_recv(&w, g, sizeof(g)) == 60 && memcmp(g, f, 60) == 0);
    CHECK(zcm_wire_recv(&w, g, 10) == 61 && g[0] == 1);      // truncated, true length
    CHECK(zcm_wire_recv(&w, g, sizeof(g)) == 0);
    CHECK(zcm_wire_send(&w, f, 42) == 0);
    CHECK(zcm_wire_take(&w, g, sizeof(g)) == 42 && zcm_wire_take(&w, g, sizeof(g)) == 0);
    zcm_wire_close(&w);

    zcm_irq_t q;
    CHECK(zcm_irq_open(&q, -1) == 0);
    struct pollfd p = { .fd = q.epfd, .events = POLLIN };
    CHECK(poll(&p, 1, 0) == 0);
    zcm_irq_set(&q, 1);
    CHECK(poll(&p, 1, 0) == 1);
    zcm_irq_set(&q, 1);
    zcm_irq_set(&q, 0);
    CHECK(poll(&p, 1, 0) == 0);
    zcm_irq_close(&q);
}

static void test_faults(void) {
    zcm_faults_t a, b;
    zcm_faults_init(&a, 9);
    zcm_faults_init(&b, 9);
    int fired = 0;
    for (int i = 0; i < 100; i++) {
        fired += zcm_fault(&a, ZCM_F_RX_CRC);
    }
    CHECK(fired == 0 && a.injected[ZCM_F_RX_CRC] == 0);
    a.rate[ZCM_F_RX_CRC] = b.rate[ZCM_F_RX_CRC] = 100000u;
    int same = 1;
    fired = 0;
    for (int i = 0; i < 10000; i++) {
        int x = zcm_fault(&a, ZCM_F_RX_CRC);
        same &= x == zcm_fault(&b, ZCM_F_RX_CRC);
        fired += x;
    }
    CHECK(same && fired > 800 && fired < 1200 && a.injected[ZCM_F_RX_CRC] == (uint32_t)fired);
    CHECK(zcm_fault(&a, -1) == 0 && zcm_fault(&a, ZCM_NFAULTS) == 0);
    for (int k = 0; k < ZCM_NFAULTS; k++) {
        CHECK(zcm_fault_kind(zcm_fault_name(k)) == k);
    }
    CHECK(zcm_fault_kind("nonsense") == -1);
    CHECK(zcm_rand(&a, 0) == 0 && zcm_rand(&a, 7) < 7);
}

int main(void) {
    test_map();
    test_bus();
    test_wire();
    test_faults();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
