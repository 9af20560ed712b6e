// zcdma: bus-address map, cache maintenance and barriers for each build, and
// on the unix build the simulated bus the device models sit on. See zcdma.h.
#include <string.h>

#include "zcdma.h"

#if !ZCDMA_HOST
// ---- on a board -----------------------------------------------------------------

zcdma_addr_t zcdma_map(const void *host, size_t size, int kind) {
    (void)size;
    (void)kind;
    return zcdma_to_bus(host, 0);
}

void zcdma_unmap(const void *host) {
    (void)host;
}

zcdma_addr_t zcdma_to_bus(const void *p, size_t len) {
    (void)len;
    zcdma_addr_t a = (zcdma_addr_t)(uintptr_t)p;
    #if ZCDMA_CACHE == ZCDMA_CACHE_C674X
    // The DSP's own L1/L2 RAM (0x00xxxxxx) is local: a bus master sees the
    // core-0 global alias (L2 0x00800000 is 0x11800000 to the EMAC).
    if (a < 0x01000000u) {
        a |= 0x11000000u;
    }
    #endif
    return a;
}

void *zcdma_to_host(zcdma_addr_t a, size_t len, int write) {
    (void)len;
    (void)write;
    return (void *)(uintptr_t)a;
}

#if ZCDMA_CACHE == ZCDMA_CACHE_CM7
// Cortex-M7 SCB cache maintenance by address, to the point of coherency.
#define SCB_DCIMVAC  (*(volatile uint32_t *)0xE000EF5Cu)   // invalidate by MVA
#define SCB_DCCMVAC  (*(volatile uint32_t *)0xE000EF68u)   // clean by MVA
static inline void cm7_dsb(void) {
    __asm volatile ("dsb 0xF" ::: "memory");
}
static inline void cm7_isb(void) {
    __asm volatile ("isb 0xF" ::: "memory");
}
#endif

#if ZCDMA_CACHE == ZCDMA_CACHE_C674X
// C674x cache controller: block write-back / invalidate by base and word count.
#define L2WBAR   (*(volatile uint32_t *)0x01844000u)
#define L2WWC    (*(volatile uint32_t *)0x01844004u)
#define L2IBAR   (*(volatile uint32_t *)0x01844018u)
#define L2IWC    (*(volatile uint32_t *)0x0184401Cu)
static void c674x_block(volatile uint32_t *bar, volatile uint32_t *wc, uintptr_t a, size_t len) {
    *bar = (uint32_t)a;
    *wc = (uint32_t)((len + 3u) / 4u);
    // Wait on the count of the operation started; it reads 0 once done.
    while (*wc != 0u) {
    }
}
#endif

void zcdma_cache_clean(const void *p, size_t len) {
    if (len == 0) {
        return;
    }
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ZCDMA_LINE - 1);
    uintptr_t end = (uintptr_t)p + len;
    #if ZCDMA_CACHE == ZCDMA_CACHE_CM7
    cm7_dsb();
    for (; a < end; a += ZCDMA_LINE) {
        SCB_DCCMVAC = (uint32_t)a;
    }
    cm7_dsb();
    cm7_isb();
    #elif ZCDMA_CACHE == ZCDMA_CACHE_ARM926
    for (; a < end; a += ZCDMA_LINE) {
        __asm volatile ("mcr p15, 0, %0, c7, c10, 1" : : "r" (a) : "memory");   // clean D line by MVA
    }
    __asm volatile ("mcr p15, 0, %0, c7, c10, 4" : : "r" (0) : "memory");       // drain write buffer
    #elif ZCDMA_CACHE == ZCDMA_CACHE_C674X
    c674x_block(&L2WBAR, &L2WWC, a, end - a);
    #else
    (void)a;
    (void)end;
    #endif
}

void zcdma_cache_inval(const void *p, size_t len) {
    if (len == 0) {
        return;
    }
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(ZCDMA_LINE - 1);
    uintptr_t end = (uintptr_t)p + len;
    #if ZCDMA_CACHE == ZCDMA_CACHE_CM7
    cm7_dsb();
    for (; a < end; a += ZCDMA_LINE) {
        SCB_DCIMVAC = (uint32_t)a;
    }
    cm7_dsb();
    cm7_isb();
    #elif ZCDMA_CACHE == ZCDMA_CACHE_ARM926
    for (; a < end; a += ZCDMA_LINE) {
        __asm volatile ("mcr p15, 0, %0, c7, c6, 1" : : "r" (a) : "memory");    // invalidate D line by MVA
    }
    #elif ZCDMA_CACHE == ZCDMA_CACHE_C674X
    c674x_block(&L2IBAR, &L2IWC, a, end - a);
    #else
    (void)a;
    (void)end;
    #endif
}

void zcdma_wmb(void) {
    #if defined(__ARM_ARCH) && __ARM_ARCH >= 7
    __asm volatile ("dsb 0xF" ::: "memory");
    #elif ZCDMA_CACHE == ZCDMA_CACHE_ARM926
    __asm volatile ("mcr p15, 0, %0, c7, c10, 4" : : "r" (0) : "memory");       // ARMv5 has no DSB
    #elif defined(__TI_COMPILER_VERSION__)
    _mfence();
    #elif defined(__GNUC__)
    __asm volatile ("" ::: "memory");
    #endif
}

void zcdma_rmb(void) {
    #if defined(__ARM_ARCH) && __ARM_ARCH >= 7
    __asm volatile ("dmb 0xF" ::: "memory");
    #elif defined(__GNUC__)
    __asm volatile ("" ::: "memory");
    #endif
}

#else
// ---- the simulated bus (unix build) -----------------------------------------------

#define ZCDMA_MAX_RAM  (16)
#define ZCDMA_MAX_DEV  (8)
// RAM windows are given bus addresses from here up ("external RAM" in the
// Cortex-M map): clear of the MMIO windows the models ask for (0x40028000
// for the STM32 ETH, 0x01E20000 for the C6747 EMAC).
#define ZCDMA_RAM_BUS_BASE (0x60000000u)
#define ZCDMA_RAM_BUS_TOP  (0xF0000000u)

typedef struct {
    uintptr_t host;
    size_t size;
    zcdma_addr_t bus;
    int kind;                      // 0: unused slot
} ram_region_t;

typedef struct {
    zcdma_addr_t base;
    uint32_t size;
    const zcdma_dev_ops_t *ops;
    void *dev;                     // NULL: unused slot
    uint32_t race_pm;
    uint64_t rng;
} dev_window_t;

static ram_region_t ram[ZCDMA_MAX_RAM];
static dev_window_t devs[ZCDMA_MAX_DEV];
static zcdma_addr_t ram_next = ZCDMA_RAM_BUS_BASE;
zcdma_host_stats_t zcdma_host_stats;

static int overlaps(uint64_t a0, uint64_t n0, uint64_t a1, uint64_t n1) {
    return a0 < a1 + n1 && a1 < a0 + n0;
}

zcdma_addr_t zcdma_map(const void *host, size_t size, int kind) {
    uintptr_t h = (uintptr_t)host;
    int slot = -1;
    for (int i = 0; i < ZCDMA_MAX_RAM; i++) {
        if (ram[i].kind == 0) {
            if (slot < 0) {
                slot = i;
            }
            continue;
        }
        if (ram[i].host == h && ram[i].size == size) {
            ram[i].kind = kind;
            return ram[i].bus;
        }
        if (overlaps(h, size, ram[i].host, ram[i].size)) {
            return 0;
        }
    }
    if (slot < 0 || size == 0 || size > 0x10000000u) {
        return 0;
    }
    // Keep the offset within a 4 KB page, so alignment seen on the bus is
    // the host's (cache lines, word-aligned descriptors).
    zcdma_addr_t bus = ram_next + (zcdma_addr_t)(h & 0xFFFu);
    uint64_t next = ((uint64_t)bus + size + 0xFFFFu) & ~(uint64_t)0xFFFFu;
    if (next > ZCDMA_RAM_BUS_TOP) {
        return 0;
    }
    ram_next = (zcdma_addr_t)next;
    ram[slot].host = h;
    ram[slot].size = size;
    ram[slot].bus = bus;
    ram[slot].kind = kind;
    return bus;
}

void zcdma_unmap(const void *host) {
    for (int i = 0; i < ZCDMA_MAX_RAM; i++) {
        if (ram[i].kind && ram[i].host == (uintptr_t)host) {
            ram[i].kind = 0;       // the bus window is not reused: stale bus addresses stay invalid
        }
    }
}

zcdma_addr_t zcdma_to_bus(const void *p, size_t len) {
    uintptr_t h = (uintptr_t)p;
    for (int i = 0; i < ZCDMA_MAX_RAM; i++) {
        if (ram[i].kind && h >= ram[i].host && len <= ram[i].size && h - ram[i].host <= ram[i].size - len) {
            return ram[i].bus + (zcdma_addr_t)(h - ram[i].host);
        }
    }
    return 0;
}

static ram_region_t *ram_at(zcdma_addr_t a, size_t len) {
    for (int i = 0; i < ZCDMA_MAX_RAM; i++) {
        if (ram[i].kind && a >= ram[i].bus && len <= ram[i].size && a - ram[i].bus <= ram[i].size - len) {
            return &ram[i];
        }
    }
    return NULL;
}

void *zcdma_to_host(zcdma_addr_t a, size_t len, int write) {
    ram_region_t *r = ram_at(a, len);
    if (r == NULL || (write && r->kind != ZCDMA_RAM_RW)) {
        return NULL;
    }
    return (void *)(r->host + (a - r->bus));
}

zcdma_addr_t zcdma_host_attach(zcdma_addr_t want, uint32_t size, const zcdma_dev_ops_t *ops, void *dev) {
    int slot = -1;
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        if (devs[i].dev == NULL) {
            slot = i;
            break;
        }
    }
    if (slot < 0 || size == 0) {
        return 0;
    }
    // Another instance may sit at the wanted base: try 16 MB steps above it.
    for (uint64_t base = want; base + size <= ZCDMA_RAM_BUS_BASE; base += 0x01000000u) {
        int taken = 0;
        for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
            if (devs[i].dev && overlaps(base, size, devs[i].base, devs[i].size)) {
                taken = 1;
            }
        }
        if (!taken) {
            devs[slot].base = (zcdma_addr_t)base;
            devs[slot].size = size;
            devs[slot].ops = ops;
            devs[slot].dev = dev;
            devs[slot].race_pm = 0;
            devs[slot].rng = 0;
            return (zcdma_addr_t)base;
        }
    }
    return 0;
}

void zcdma_host_detach(void *dev) {
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        if (devs[i].dev == dev) {
            devs[i].dev = NULL;
        }
    }
}

void zcdma_host_race(void *dev, uint32_t per_million, uint64_t seed) {
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        if (devs[i].dev == dev) {
            devs[i].race_pm = per_million;
            devs[i].rng = seed;
        }
    }
}

// Before each driver access: a device may have moved on meanwhile.
static void race_points(void) {
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        dev_window_t *d = &devs[i];
        if (d->dev && d->race_pm && d->ops->step && zcdma_rng_chance(&d->rng, d->race_pm)) {
            zcdma_host_stats.races++;
            d->ops->step(d->dev);
        }
    }
}

static dev_window_t *dev_at(zcdma_addr_t a) {
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        if (devs[i].dev && a >= devs[i].base && a - devs[i].base < devs[i].size) {
            return &devs[i];
        }
    }
    return NULL;
}

uint32_t zcdma_rd32(zcdma_addr_t a) {
    race_points();
    zcdma_host_stats.reads++;
    dev_window_t *d = dev_at(a);
    if (d) {
        return d->ops->rd(d->dev, a - d->base);
    }
    ram_region_t *r = ram_at(a, 4);
    if (r && (a & 3u) == 0) {
        uint32_t v;
        memcpy(&v, (const void *)(r->host + (a - r->bus)), 4);
        return v;
    }
    zcdma_host_stats.bad_access++;
    return 0xFFFFFFFFu;
}

void zcdma_wr32(zcdma_addr_t a, uint32_t v) {
    race_points();
    zcdma_host_stats.writes++;
    dev_window_t *d = dev_at(a);
    if (d) {
        d->ops->wr(d->dev, a - d->base, v);
        return;
    }
    ram_region_t *r = ram_at(a, 4);
    if (r && r->kind == ZCDMA_RAM_RW && (a & 3u) == 0) {
        memcpy((void *)(r->host + (a - r->bus)), &v, 4);
        return;
    }
    zcdma_host_stats.bad_access++;
}

static void cache_call(int op, const void *p, size_t len) {
    zcdma_addr_t a = p ? zcdma_to_bus(p, len) : 0;
    for (int i = 0; i < ZCDMA_MAX_DEV; i++) {
        if (devs[i].dev && devs[i].ops->cache) {
            devs[i].ops->cache(devs[i].dev, op, a, len);
        }
    }
}

void zcdma_cache_clean(const void *p, size_t len) {
    zcdma_host_stats.cleans++;
    cache_call(ZCDMA_OP_CLEAN, p, len);
}

void zcdma_cache_inval(const void *p, size_t len) {
    zcdma_host_stats.invals++;
    cache_call(ZCDMA_OP_INVAL, p, len);
}

void zcdma_wmb(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    zcdma_host_stats.wmbs++;
    cache_call(ZCDMA_OP_WMB, NULL, 0);
}

void zcdma_rmb(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    zcdma_host_stats.rmbs++;
    cache_call(ZCDMA_OP_RMB, NULL, 0);
}
#endif
