// zcdma: what every DMA MAC driver shares, below the register logic.
//
//   - the register and descriptor access layer: zcdma_rd32/zcdma_wr32 by bus
//     address. On a board they are volatile loads and stores; on the unix
//     build (ZCDMA_HOST) they are calls into a simulated bus where MMIO
//     windows belong to a device model, and before any access the model may
//     advance (complete a frame, set or clear OWN) at seeded points, so
//     ordering bugs and races show up in tests instead of being staged;
//   - the bus-address map: descriptors hold 32-bit bus addresses. On a board
//     the map is the identity (plus the C674x local-to-global translation);
//     on the unix build (64-bit and PIE, or 32-bit) every region a descriptor
//     may point at is registered and given a bus window, and a DMA access
//     outside every window is a fatal bus error in the model;
//   - cache maintenance and barriers, chosen at build time (ZCDMA_CACHE);
//   - the rule that a descriptor only points at storage that cannot move:
//     pool blocks, header blocks, `bytes` and read-only data (zcdma_mp.h).
//
// Portable C99 with <stdint.h> types only: the C6747 DSP build (TI's COFF
// ABI, 40-bit long) compiles it too. Little-endian buses only.
#ifndef ZCDMA_H
#define ZCDMA_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t zcdma_addr_t;     // an address as a DMA engine sees it

#ifndef ZCDMA_HOST
#define ZCDMA_HOST (0)
#endif

// ---- cache maintenance configurations (ZCDMA_CACHE) -----------------------------
#define ZCDMA_CACHE_NONE    (0)    // no data cache, or DMA memory non-cacheable (M7 MPU region, F4)
#define ZCDMA_CACHE_CM7     (1)    // Cortex-M7 L1 D-cache: SCB clean/invalidate by address
#define ZCDMA_CACHE_ARM926  (2)    // ARM926EJ-S: CP15 c7 clean/invalidate by MVA, drain write buffer
#define ZCDMA_CACHE_C674X   (3)    // C674x L2: L2WBAR/L2WIBAR/L2IBAR block operations
#define ZCDMA_CACHE_MODEL   (4)    // unix build: calls counted and passed to the device model

#ifndef ZCDMA_CACHE
#if ZCDMA_HOST
#define ZCDMA_CACHE ZCDMA_CACHE_MODEL
#else
#define ZCDMA_CACHE ZCDMA_CACHE_NONE
#endif
#endif

// Cache line of the configuration: maintenance is rounded out to it, and RX
// buffers must be aligned to it (C674x L2 lines are 128 bytes: a DSP pool
// needs ZCPOOL_ALIGN 128).
#if ZCDMA_CACHE == ZCDMA_CACHE_C674X
#define ZCDMA_LINE (128)
#else
#define ZCDMA_LINE (32)
#endif

// ---- register and descriptor access ---------------------------------------------
#if ZCDMA_HOST
uint32_t zcdma_rd32(zcdma_addr_t a);
void zcdma_wr32(zcdma_addr_t a, uint32_t v);
#else
static inline uint32_t zcdma_rd32(zcdma_addr_t a) {
    return *(volatile uint32_t *)(uintptr_t)a;
}
static inline void zcdma_wr32(zcdma_addr_t a, uint32_t v) {
    *(volatile uint32_t *)(uintptr_t)a = v;
}
#endif

// ---- bus-address map ------------------------------------------------------------
enum {
    ZCDMA_RAM_RW = 1,              // the DMA may read and write (pool blocks, descriptors)
    ZCDMA_RAM_RO = 2,              // the DMA may only read (GC heap for `bytes`, read-only data)
};

// Make [host, host + size) reachable by the DMA and return the bus address of
// `host`, or 0 when the map is full or the range overlaps a mapped one.
// Board: the identity (nothing is recorded). Idempotent for the same range.
zcdma_addr_t zcdma_map(const void *host, size_t size, int kind);
void zcdma_unmap(const void *host);
// Bus address of [p, p + len) when it lies inside one mapped region, else 0:
// the driver must not post it.
zcdma_addr_t zcdma_to_bus(const void *p, size_t len);
// Host address of bus range [a, a + len) for a DMA read (write = 0) or
// write (write = 1); NULL when it is not inside one region that allows it:
// the device model then raises its bus error. Board: the identity.
void *zcdma_to_host(zcdma_addr_t a, size_t len, int write);

// ---- cache maintenance and barriers -----------------------------------------------
// Write back [p, p + len) (rounded out to lines) before the DMA reads it (TX).
void zcdma_cache_clean(const void *p, size_t len);
// Discard [p, p + len) before the CPU reads what the DMA wrote (RX), and
// before a buffer is handed to the DMA for writing (so no dirty line is
// evicted over the frame). The buffer must be line-aligned and a multiple
// of lines long (pool blocks are).
void zcdma_cache_inval(const void *p, size_t len);
// Make descriptor words written so far visible to the DMA before the next
// write (OWN hand-off, doorbell): DSB on Cortex-M, drain write buffer on the
// ARM926, a memory fence on the host.
void zcdma_wmb(void);
// Order a status read (OWN clear) before reading the rest of the descriptor.
void zcdma_rmb(void);

// ---- the simulated bus (unix build only) ---------------------------------------------
#if ZCDMA_HOST
enum { ZCDMA_OP_CLEAN = 1, ZCDMA_OP_INVAL = 2, ZCDMA_OP_WMB = 3, ZCDMA_OP_RMB = 4 };

// A device model on the bus: its register window and what the bus asks of it.
typedef struct zcdma_dev_ops {
    uint32_t (*rd)(void *dev, uint32_t off);             // register read at window offset
    void (*wr)(void *dev, uint32_t off, uint32_t v);     // register write at window offset
    void (*step)(void *dev);                             // advance the DMA by one unit of work
    // A cache or barrier call by the driver (bus address 0 and len 0 for barriers).
    void (*cache)(void *dev, int op, zcdma_addr_t a, size_t len);
} zcdma_dev_ops_t;

// Attach a device with a register window of `size` bytes at `want` (a free
// window is chosen above it when `want` is taken: several instances at
// once). Returns the window's base, or 0 when the bus is full.
zcdma_addr_t zcdma_host_attach(zcdma_addr_t want, uint32_t size, const zcdma_dev_ops_t *ops, void *dev);
void zcdma_host_detach(void *dev);
// Let `dev` advance at seeded points between any two driver accesses: with
// probability per_million / 1e6 before each zcdma_rd32/zcdma_wr32 (0: never).
void zcdma_host_race(void *dev, uint32_t per_million, uint64_t seed);

// The seeded generator the bus and the models share (splitmix64).
static inline uint64_t zcdma_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// True with probability per_million / 1e6.
static inline int zcdma_rng_chance(uint64_t *state, uint32_t per_million) {
    return per_million && (uint32_t)(zcdma_rng_next(state) % 1000000u) < per_million;
}

typedef struct {
    uint32_t reads, writes;        // driver accesses through the layer
    uint32_t races;                // model steps taken between two accesses
    uint32_t cleans, invals, wmbs, rmbs;
    uint32_t bad_access;           // a driver access to no window (reads 0, write ignored)
} zcdma_host_stats_t;
extern zcdma_host_stats_t zcdma_host_stats;
#endif

#endif
