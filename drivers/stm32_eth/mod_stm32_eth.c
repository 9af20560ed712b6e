// stm32_eth: the MicroPython binding of the STM32F4/F7 ETH driver, module
// `stm32_eth`, type `ETH`: the driver contract of docs/internals.md around
// the register logic of eth_core.c. On the unix build (ZCDMA_HOST) the
// behavioural model (model/) is created with the driver and runs "in the
// background": each rx_poll/tx_reap/link first lets it move frames, then the
// driver services its interrupt status and does its work with the budget.
//
//   ETH(rx_ring=16, tx_ring=32, tx_desc=0, mac=b"\x02\0\0\0\0\x02", promisc=False,
//       enhanced=False, chained=False, dsl=0, pad=True, rx_csum=True, tx_csum=False,
//       # unix build only:
//       wire="queue"|"tap", tap="zc0", attach=False, queue_depth=64, seed=1,
//       race=0, cache="none"|"maint")
#include <string.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/gc.h"
#include "zcpool.h"
#include "zcdma.h"
#include "zcdma_mp.h"
#include "eth_core.h"
#include "eth_phy.h"

#if ZCDMA_HOST
#include <stdlib.h>
#include "model/stm32_eth_model.h"
#endif

#define ETH_MAX_RX_RING    (256)
#define ETH_MAX_TX_RING    (256)
#define ETH_MAX_TX_DESC    (1024)
#define ETH_PHY_POLL_CALLS (64)       // rx_poll calls between PHY polls (link() polls at once)

#if !ZCDMA_HOST
// On a board the descriptors live in static memory the DMA reaches (never
// CCM RAM on an F4). With the CM7 cache enabled it must be non-cacheable:
// the board's linker script / MPU set-up puts ETH_DESC_SECTION there.
#ifndef ETH_BOARD_RX_DESC
#define ETH_BOARD_RX_DESC  (32)
#endif
#ifndef ETH_BOARD_TX_DESC
#define ETH_BOARD_TX_DESC  (96)
#endif
#ifdef ETH_DESC_SECTION
#define ETH_DESC_ATTR __attribute__((section(ETH_DESC_SECTION), aligned(32)))
#else
#define ETH_DESC_ATTR __attribute__((aligned(32)))
#endif
static uint32_t eth_desc_mem[(ETH_BOARD_RX_DESC + ETH_BOARD_TX_DESC) * ETH_EDESC_WORDS] ETH_DESC_ATTR;
static bool eth_desc_taken;
#endif

typedef struct {
    mp_obj_base_t base;
    eth_dev_t e;
    bool open;
    uint32_t *desc_mem;            // descriptor memory (both rings)
    // per TX slot and entry: the object kept reachable until reap, and for a
    // mutable buffer that was copied, its storage as tx() saw it
    mp_obj_t *tx_objs;
    zcdma_lent_t *lent;            // tx_n * MAX_SEG: lent storage, re-checked before the DMA
    uint32_t phy_calls;
    #if ZCDMA_HOST
    stm32m_t *model;
    char name[32];
    #endif
} eth_obj_t;

static const mp_obj_type_t eth_type;

static eth_obj_t *eth_live(mp_obj_t self_in) {
    eth_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (!self->open) {
        mp_raise_OSError(MP_EBADF);
    }
    return self;
}

// ---- the model "in the background" (unix) ----------------------------------------------

static void eth_bg(eth_obj_t *self) {
    #if ZCDMA_HOST
    stm32m_run(self->model);
    #else
    (void)self;
    #endif
}

// The readiness fd follows the interrupt line and the work the poll step has left.
static void eth_ready(eth_obj_t *self) {
    #if ZCDMA_HOST
    eth_dev_t *e = &self->e;
    int line = stm32m_irq_line(self->model) || e->rx_sched || eth_rx_pending(e)
               || stm32m_wire_pending(self->model) > 0;
    stm32m_irq_set(self->model, line);
    #else
    (void)self;
    #endif
}

// The PHY is polled (a few MDIO transactions, ~25 us each at 2.5 MHz MDC)
// once every ETH_PHY_POLL_CALLS poll steps, not on every one: counted in
// calls, not time, so no clock is needed (ports/qemu has no ticks).
static void eth_phy_tick(eth_obj_t *self, bool now) {
    if (!now && ++self->phy_calls < ETH_PHY_POLL_CALLS) {
        return;
    }
    self->phy_calls = 0;
    if (eth_phy_poll(&self->e)) {
        self->e.st.link_changes++;
    }
}

// ---- RX ---------------------------------------------------------------------------------

static mp_obj_t eth_rx_poll_m(mp_obj_t self_in, mp_obj_t budget_in, mp_obj_t out_in) {
    eth_obj_t *self = eth_live(self_in);
    mp_int_t budget = mp_obj_get_int(budget_in);
    size_t nout;
    int32_t *out = zcdma_mp_out(out_in, &nout);
    if (budget < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("budget < 0"));
    }
    if ((size_t)budget > nout / 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("out shorter than 3*budget"));
    }
    eth_dev_t *e = &self->e;
    if (e->rx_missing) {
        eth_rx_refill(e);          // empty slots first: the DMA may be waiting on them
    }
    eth_bg(self);
    eth_service(e);
    eth_phy_tick(self, false);
    int got = eth_rx_poll(e, (int)budget, out);
    eth_ready(self);
    return MP_OBJ_NEW_SMALL_INT(got);
}
static MP_DEFINE_CONST_FUN_OBJ_3(eth_rx_poll_obj, eth_rx_poll_m);

// ---- TX ---------------------------------------------------------------------------------

static mp_obj_t eth_tx_m(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    eth_obj_t *self = eth_live(args[0]);
    eth_dev_t *e = &self->e;
    mp_int_t n = mp_obj_get_int(args[1]);
    mp_obj_t gather = args[2];
    mp_int_t cookie = mp_obj_get_int(args[3]);
    if (cookie < INT32_MIN || cookie > INT32_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("cookie out of range"));
    }
    zcdma_seg_t segs[ZCDMA_MAX_SEG];
    mp_obj_t objs[ZCDMA_MAX_SEG];
    uint32_t copied = 0;
    // Validates everything (raises, nothing taken), then takes the references.
    int r = zcdma_mp_gather(gather, n, ETH_MAX_SEG, ETH_TX_MIN, ETH_TX_MAX, segs, objs, &copied);
    if (r) {
        e->st.tx_ring_full++;      // a copy needed a block: none free
        return MP_OBJ_NEW_SMALL_INT(r);
    }
    eth_seg_t es[ETH_MAX_SEG];
    for (mp_int_t k = 0; k < n; k++) {
        es[k].ptr = segs[k].ptr;
        es[k].bus = segs[k].bus;
        es[k].len = segs[k].len;
        es[k].blk = segs[k].blk;
    }
    int s = eth_tx_queue(e, es, (unsigned)n, (int32_t)cookie);
    if (s < 0) {
        zcdma_mp_release(segs, (size_t)n, objs);
        return MP_OBJ_NEW_SMALL_INT(MP_ENOBUFS);
    }
    e->st.tx_copied_bytes += copied;
    mp_obj_t *g;
    size_t glen;
    mp_obj_get_array(gather, &glen, &g);
    size_t base = (size_t)s * ETH_MAX_SEG;
    for (mp_int_t k = 0; k < n; k++) {
        self->tx_objs[base + k] = objs[k];
        self->lent[base + k].ptr = NULL;
        if (segs[k].copied) {
            // the bytes went out of a copy; a lender that moves or resizes its
            // buffer before the frame is handed to the DMA still has it not sent
            self->tx_objs[base + k] = g[3 * k];
            zcdma_mp_lent_record(g[3 * k], &self->lent[base + k]);
        }
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(eth_tx_obj, 4, 4, eth_tx_m);

// Just before the frames go to the DMA: a lent mutable buffer that moved or
// changed size cancels its frame (it completes unsent, tx_ref_moved).
static void eth_tx_check_moved(eth_obj_t *self) {
    eth_dev_t *e = &self->e;
    for (unsigned q = e->tx_posted; q < e->tx_count; q++) {
        unsigned s = (e->tx_head + q) % e->tx_n;
        eth_txf_t *f = &e->txf[s];
        size_t base = (size_t)s * ETH_MAX_SEG;
        for (unsigned k = 0; k < f->nseg && f->state == ETH_TXF_QUEUED; k++) {
            if (zcdma_mp_lent_moved(self->tx_objs[base + k], &self->lent[base + k])) {
                f->state = ETH_TXF_CANCELLED;
            }
        }
    }
}

static mp_obj_t eth_tx_reap_m(mp_obj_t self_in, mp_obj_t out_in) {
    eth_obj_t *self = eth_live(self_in);
    eth_dev_t *e = &self->e;
    size_t nout;
    int32_t *out = zcdma_mp_out(out_in, &nout);
    if (e->tx_posted < e->tx_count) {
        eth_tx_check_moved(self);
        eth_tx_kick(e);
    }
    eth_bg(self);
    eth_service(e);
    size_t m = 0;
    int32_t cookie;
    while (m < nout) {
        int s = eth_tx_reap_one(e, &cookie);
        if (s < 0) {
            break;
        }
        out[m++] = cookie;
        for (unsigned k = 0; k < ETH_MAX_SEG; k++) {
            self->tx_objs[(size_t)s * ETH_MAX_SEG + k] = MP_OBJ_NULL;
            self->lent[(size_t)s * ETH_MAX_SEG + k].ptr = NULL;
        }
    }
    if (e->tx_posted == 0) {
        e->tx_sched = 0;
    }
    eth_ready(self);
    return MP_OBJ_NEW_SMALL_INT(m);
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_tx_reap_obj, eth_tx_reap_m);

static mp_obj_t eth_tx_room_m(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(eth_tx_room(&eth_live(self_in)->e));
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_tx_room_obj, eth_tx_room_m);

// ---- status ---------------------------------------------------------------------------------

static mp_obj_t eth_link_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_live(self_in);
    eth_bg(self);
    eth_service(&self->e);
    eth_phy_tick(self, true);
    eth_ready(self);
    eth_phy_t *p = &self->e.phy;
    mp_obj_t t[3] = { mp_obj_new_bool(p->up), MP_OBJ_NEW_SMALL_INT(p->up ? p->speed : 0),
                      mp_obj_new_bool(p->up && p->full) };
    return mp_obj_new_tuple(3, t);
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_link_obj, eth_link_m);

static mp_obj_t eth_stats_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_live(self_in);
    return zcdma_mp_stats(eth_stat_names, (const uint32_t *)&self->e.st, ETH_NSTATS);
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_stats_obj, eth_stats_m);

static mp_obj_t eth_fileno_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_live(self_in);
    #if ZCDMA_HOST
    return MP_OBJ_NEW_SMALL_INT(stm32m_fileno(self->model));
    #else
    (void)self;
    return MP_OBJ_NEW_SMALL_INT(-1);
    #endif
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_fileno_obj, eth_fileno_m);

// ---- construction / teardown ----------------------------------------------------------------

static void eth_free_desc(eth_obj_t *self) {
    if (self->desc_mem == NULL) {
        return;
    }
    #if ZCDMA_HOST
    zcdma_unmap(self->desc_mem);
    free(self->desc_mem);
    #else
    eth_desc_taken = false;
    #endif
    self->desc_mem = NULL;
}

static void eth_do_close(eth_obj_t *self) {
    if (!self->open) {
        return;
    }
    self->open = false;
    eth_stop(&self->e);
    eth_release(&self->e);
    if (self->tx_objs) {
        memset(self->tx_objs, 0, (size_t)self->e.tx_n * ETH_MAX_SEG * sizeof(mp_obj_t));
    }
    #if ZCDMA_HOST
    stm32m_close(self->model);
    self->model = NULL;
    #endif
    eth_free_desc(self);
}

static mp_obj_t eth_close_m(mp_obj_t self_in) {
    eth_do_close(MP_OBJ_TO_PTR(self_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_close_obj, eth_close_m);

static mp_obj_t eth_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_rx_ring, ARG_tx_ring, ARG_tx_desc, ARG_mac, ARG_promisc, ARG_enhanced, ARG_chained, ARG_dsl,
           ARG_pad, ARG_rx_csum, ARG_tx_csum, ARG_wire, ARG_tap, ARG_attach, ARG_queue_depth, ARG_seed,
           ARG_race, ARG_cache };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_rx_ring, MP_ARG_INT, {.u_int = 16} },
        { MP_QSTR_tx_ring, MP_ARG_INT, {.u_int = 32} },
        { MP_QSTR_tx_desc, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_mac, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_promisc, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_enhanced, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_chained, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_dsl, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_pad, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_rx_csum, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_tx_csum, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_wire, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_tap, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_attach, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_queue_depth, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 64} },
        { MP_QSTR_seed, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 1} },
        { MP_QSTR_race, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_cache, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, a);
    mp_int_t rxn = a[ARG_rx_ring].u_int, txn = a[ARG_tx_ring].u_int, dsl = a[ARG_dsl].u_int;
    mp_int_t txd = a[ARG_tx_desc].u_int;
    if (rxn < 2 || rxn > ETH_MAX_RX_RING || txn < 1 || txn > ETH_MAX_TX_RING) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad ring size"));
    }
    if (dsl < 0 || dsl > 31) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad dsl"));
    }
    bool chained = a[ARG_chained].u_bool, enhanced = a[ARG_enhanced].u_bool;
    if (txd == 0) {
        // room for any one frame of MAX_SEG entries, plus two per frame slot
        txd = 2 * txn + (chained ? ETH_MAX_SEG : ETH_MAX_SEG / 2);
    }
    if (txd < (chained ? ETH_MAX_SEG : ETH_MAX_SEG / 2) || txd > ETH_MAX_TX_DESC) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad tx_desc"));
    }
    uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
    if (a[ARG_mac].u_obj != MP_OBJ_NULL) {
        mp_buffer_info_t bi;
        mp_get_buffer_raise(a[ARG_mac].u_obj, &bi, MP_BUFFER_READ);
        if (bi.len != 6) {
            mp_raise_ValueError(MP_ERROR_TEXT("a MAC address is 6 bytes"));
        }
        memcpy(mac, bi.buf, 6);
    }
    uint32_t stride = ((enhanced ? ETH_EDESC_WORDS : ETH_DESC_WORDS) + (chained ? 0 : (uint32_t)dsl)) * 4u;
    size_t desc_bytes = (size_t)(rxn + txd) * stride;
    #if ZCDMA_HOST
    int use_tap = 0;
    if (a[ARG_wire].u_obj != MP_OBJ_NULL) {
        const char *w = mp_obj_str_get_str(a[ARG_wire].u_obj);
        if (strcmp(w, "tap") == 0) {
            use_tap = 1;
        } else if (strcmp(w, "queue") != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("wire is \"queue\" or \"tap\""));
        }
    }
    const char *tap = a[ARG_tap].u_obj != MP_OBJ_NULL ? mp_obj_str_get_str(a[ARG_tap].u_obj) : "zc0";
    if (strlen(tap) == 0 || strlen(tap) >= 16) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad interface name"));
    }
    int maint = 0;
    if (a[ARG_cache].u_obj != MP_OBJ_NULL) {
        const char *c = mp_obj_str_get_str(a[ARG_cache].u_obj);
        if (strcmp(c, "maint") == 0) {
            maint = 1;
        } else if (strcmp(c, "none") != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("cache is \"none\" or \"maint\""));
        }
    }
    mp_int_t depth = a[ARG_queue_depth].u_int, race = a[ARG_race].u_int;
    if (depth < 1 || depth > 4096 || race < 0 || race > 1000000) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad queue_depth or race"));
    }
    #else
    if (desc_bytes > sizeof(eth_desc_mem) || eth_desc_taken) {
        mp_raise_ValueError(MP_ERROR_TEXT("rings larger than the board's descriptor memory, or ETH open"));
    }
    #endif
    zcdma_mp_map_regions();
    zcpool_init();

    // Python-heap allocations first: a MemoryError cannot strand a model or blocks.
    eth_obj_t *self = mp_obj_malloc_with_finaliser(eth_obj_t, type);
    memset(&self->e, 0, sizeof(self->e));
    self->open = false;
    self->desc_mem = NULL;
    self->e.rx_blk = m_new(int16_t, rxn);
    self->e.txf = m_new0(eth_txf_t, txn);
    self->tx_objs = m_new0(mp_obj_t, (size_t)txn * ETH_MAX_SEG);
    self->lent = m_new0(zcdma_lent_t, (size_t)txn * ETH_MAX_SEG);
    eth_dev_t *e = &self->e;
    e->rx_n = (uint16_t)rxn;
    e->tx_n = (uint16_t)txn;
    e->tx_ndesc = (uint16_t)txd;
    e->enhanced = enhanced;
    e->chained = chained;
    e->dsl = (uint8_t)(chained ? 0 : dsl);
    e->pad = a[ARG_pad].u_bool;
    e->promisc = a[ARG_promisc].u_bool;
    e->rx_csum = a[ARG_rx_csum].u_bool;
    e->tx_csum = a[ARG_tx_csum].u_bool;
    memcpy(e->mac, mac, 6);

    #if ZCDMA_HOST
    e->cache_maint = (uint8_t)maint;
    uint32_t *mem = calloc(1, desc_bytes);     // word-aligned: all a descriptor needs
    if (mem == NULL) {
        mp_raise_OSError(MP_ENOMEM);
    }
    zcdma_addr_t bus = zcdma_map(mem, desc_bytes, ZCDMA_RAM_RW);
    if (bus == 0) {
        free(mem);
        mp_raise_OSError(MP_ENOMEM);
    }
    self->desc_mem = mem;
    int err = 0;
    zcdma_addr_t base = 0;
    self->model = stm32m_open(use_tap, tap, a[ARG_attach].u_bool, (unsigned)depth,
        (uint64_t)a[ARG_seed].u_int, &base, &err);
    if (self->model == NULL) {
        eth_free_desc(self);
        mp_raise_OSError(err);
    }
    const char *nm = use_tap ? stm32m_tap_name(self->model) : "stm32q";
    strncpy(self->name, nm, sizeof(self->name) - 1);
    stm32m_cache_checks(self->model, maint);
    if (race) {
        zcdma_host_race(self->model, (uint32_t)race, (uint64_t)a[ARG_seed].u_int * 7919u + 1u);
    }
    e->base = base;
    #else
    self->desc_mem = eth_desc_mem;
    eth_desc_taken = true;
    zcdma_addr_t bus = zcdma_to_bus(eth_desc_mem, desc_bytes);
    e->base = ETH_BASE;
    #endif
    e->rx_bus = bus;
    e->tx_bus = bus + (zcdma_addr_t)rxn * stride;
    if (eth_init(e) != 0) {
        eth_release(e);
        #if ZCDMA_HOST
        stm32m_close(self->model);
        self->model = NULL;
        #endif
        eth_free_desc(self);
        mp_raise_OSError(MP_ETIMEDOUT);    // DMABMR.SR never cleared: no REF_CLK from the PHY?
    }
    self->open = true;
    self->phy_calls = 0;
    return MP_OBJ_FROM_PTR(self);
}

// ---- model and test controls (unix) -----------------------------------------------------------

#if ZCDMA_HOST
static eth_obj_t *eth_model_of(mp_obj_t self_in) {
    return eth_live(self_in);
}

static mp_obj_t eth_inject_m(mp_obj_t self_in, mp_obj_t frame) {
    eth_obj_t *self = eth_model_of(self_in);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(frame, &bi, MP_BUFFER_READ);
    int r = stm32m_inject(self->model, bi.buf, bi.len);
    eth_ready(self);
    return MP_OBJ_NEW_SMALL_INT(r < 0 ? -r : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_inject_obj, eth_inject_m);

static mp_obj_t eth_take_m(mp_obj_t self_in, mp_obj_t buf) {
    eth_obj_t *self = eth_model_of(self_in);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_WRITE);
    int r = stm32m_take(self->model, bi.buf, bi.len);
    return MP_OBJ_NEW_SMALL_INT(r < 0 ? 0 : r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_take_obj, eth_take_m);

static mp_obj_t eth_fault_m(mp_obj_t self_in, mp_obj_t name, mp_obj_t pm) {
    eth_obj_t *self = eth_model_of(self_in);
    const char *nm = mp_obj_str_get_str(name);
    mp_int_t v = mp_obj_get_int(pm);
    zcm_faults_t *f = stm32m_faults(self->model);
    if (strcmp(nm, "link_down_steps") == 0) {
        f->link_down_steps = (uint32_t)(v > 0 ? v : 1);
        return mp_const_none;
    }
    int k = zcm_fault_kind(nm);
    if (k < 0 || v < 0 || v > 1000000) {
        mp_raise_ValueError(MP_ERROR_TEXT("unknown fault or bad rate"));
    }
    f->rate[k] = (uint32_t)v;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(eth_fault_obj, eth_fault_m);

static mp_obj_t eth_faults_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_model_of(self_in);
    zcm_faults_t *f = stm32m_faults(self->model);
    const char *names[ZCM_NFAULTS];
    for (int k = 0; k < ZCM_NFAULTS; k++) {
        names[k] = zcm_fault_name(k);
    }
    return zcdma_mp_stats(names, f->injected, ZCM_NFAULTS);
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_faults_obj, eth_faults_m);

static mp_obj_t eth_link_set_m(mp_obj_t self_in, mp_obj_t up) {
    eth_obj_t *self = eth_model_of(self_in);
    stm32m_link_set(self->model, mp_obj_is_true(up));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_link_set_obj, eth_link_set_m);

static mp_obj_t eth_reset_stuck_m(mp_obj_t self_in, mp_obj_t on) {
    eth_obj_t *self = eth_model_of(self_in);
    stm32m_reset_stuck(self->model, mp_obj_is_true(on));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_reset_stuck_obj, eth_reset_stuck_m);

static mp_obj_t eth_model_stats_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_model_of(self_in);
    mp_obj_t d = zcdma_mp_stats(stm32m_stat_names, (const uint32_t *)stm32m_stats(self->model), STM32M_NSTATS);
    static const char *const mmc_names[] = { "mmc_rx_crc", "mmc_rx_good_unicast", "mmc_tx_good" };
    static const uint32_t mmc_regs[] = { ETH_MMCRFCECR, ETH_MMCRGUFCR, ETH_MMCTGFCR };
    for (int k = 0; k < 3; k++) {
        mp_obj_dict_store(d, mp_obj_new_str(mmc_names[k], strlen(mmc_names[k])),
            mp_obj_new_int_from_uint(stm32m_mmc(self->model, mmc_regs[k])));
    }
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_model_stats_obj, eth_model_stats_m);

static mp_obj_t eth_bus_stats_m(mp_obj_t self_in) {
    (void)eth_model_of(self_in);
    static const char *const names[] = { "reads", "writes", "races", "cleans", "invals", "wmbs", "rmbs", "bad_access" };
    const zcdma_host_stats_t *s = &zcdma_host_stats;
    uint32_t v[] = { s->reads, s->writes, s->races, s->cleans, s->invals, s->wmbs, s->rmbs, s->bad_access };
    return zcdma_mp_stats(names, v, MP_ARRAY_SIZE(v));
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_bus_stats_obj, eth_bus_stats_m);

// The model's registers directly (no driver, no race step): model_reg(off)
// reads, model_reg(off, value) writes; model_run() lets the DMA run.
static mp_obj_t eth_model_reg_m(size_t n_args, const mp_obj_t *args) {
    eth_obj_t *self = eth_model_of(args[0]);
    uint32_t off = (uint32_t)mp_obj_get_int(args[1]);
    if (n_args == 3) {
        stm32m_reg_write(self->model, off, (uint32_t)mp_obj_get_int_truncated(args[2]));
        return mp_const_none;
    }
    return mp_obj_new_int_from_uint(stm32m_reg_read(self->model, off));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(eth_model_reg_obj, 2, 3, eth_model_reg_m);

static mp_obj_t eth_lose_tx_demands_m(mp_obj_t self_in, mp_obj_t n) {
    eth_obj_t *self = eth_model_of(self_in);
    stm32m_lose_tx_demands(self->model, (unsigned)mp_obj_get_int(n));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_lose_tx_demands_obj, eth_lose_tx_demands_m);

static mp_obj_t eth_model_run_m(mp_obj_t self_in) {
    eth_obj_t *self = eth_model_of(self_in);
    return MP_OBJ_NEW_SMALL_INT(stm32m_run(self->model));
}
static MP_DEFINE_CONST_FUN_OBJ_1(eth_model_run_obj, eth_model_run_m);

// A register as the driver sees it (through the bus), for tests: regs(off).
static mp_obj_t eth_reg_m(mp_obj_t self_in, mp_obj_t off) {
    eth_obj_t *self = eth_model_of(self_in);
    return mp_obj_new_int_from_uint(eth_rd(&self->e, (uint32_t)mp_obj_get_int(off)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(eth_reg_obj, eth_reg_m);
#endif

// ---- the type --------------------------------------------------------------------------------

static mp_uint_t eth_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    eth_obj_t *self = MP_OBJ_TO_PTR(self_in);
    (void)arg;
    if (request == MP_STREAM_CLOSE) {
        eth_do_close(self);
        return 0;
    }
    if (!self->open) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    #if ZCDMA_HOST
    if (request == MP_STREAM_GET_FILENO) {
        return stm32m_fileno(self->model);
    }
    #endif
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static const mp_stream_p_t eth_stream_p = {
    .ioctl = eth_ioctl,
};

static void eth_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    eth_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        if (attr == MP_QSTR_name) {
            #if ZCDMA_HOST
            dest[0] = mp_obj_new_str(self->name, strlen(self->name));
            #else
            dest[0] = MP_OBJ_NEW_QSTR(MP_QSTR_eth0);
            #endif
            return;
        }
        if (attr == MP_QSTR_TX_CSUM) {
            // the stack may leave TX checksums to the MAC (netif capability)
            dest[0] = mp_obj_new_bool(self->e.tx_csum);
            return;
        }
    }
    dest[1] = MP_OBJ_SENTINEL;
}

static void eth_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    eth_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<ETH rx_ring=%u tx_ring=%u tx_desc=%u%s%s%s>", self->e.rx_n, self->e.tx_n, self->e.tx_ndesc,
        self->e.enhanced ? " enhanced" : "", self->e.chained ? " chained" : "", self->open ? "" : " closed");
}

static const mp_rom_map_elem_t eth_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(ETH_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_rx_poll), MP_ROM_PTR(&eth_rx_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx), MP_ROM_PTR(&eth_tx_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_reap), MP_ROM_PTR(&eth_tx_reap_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_room), MP_ROM_PTR(&eth_tx_room_obj) },
    { MP_ROM_QSTR(MP_QSTR_link), MP_ROM_PTR(&eth_link_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&eth_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&eth_fileno_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&eth_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&eth_close_obj) },
    #if ZCDMA_HOST
    { MP_ROM_QSTR(MP_QSTR_inject), MP_ROM_PTR(&eth_inject_obj) },
    { MP_ROM_QSTR(MP_QSTR_take), MP_ROM_PTR(&eth_take_obj) },
    { MP_ROM_QSTR(MP_QSTR_fault), MP_ROM_PTR(&eth_fault_obj) },
    { MP_ROM_QSTR(MP_QSTR_faults), MP_ROM_PTR(&eth_faults_obj) },
    { MP_ROM_QSTR(MP_QSTR_link_set), MP_ROM_PTR(&eth_link_set_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset_stuck), MP_ROM_PTR(&eth_reset_stuck_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_stats), MP_ROM_PTR(&eth_model_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_bus_stats), MP_ROM_PTR(&eth_bus_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_reg), MP_ROM_PTR(&eth_reg_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_reg), MP_ROM_PTR(&eth_model_reg_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_run), MP_ROM_PTR(&eth_model_run_obj) },
    { MP_ROM_QSTR(MP_QSTR_lose_tx_demands), MP_ROM_PTR(&eth_lose_tx_demands_obj) },
    #endif
};
static MP_DEFINE_CONST_DICT(eth_locals, eth_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    eth_type,
    MP_QSTR_ETH,
    MP_TYPE_FLAG_NONE,
    make_new, eth_make_new,
    print, eth_print,
    attr, eth_attr,
    protocol, &eth_stream_p,
    locals_dict, &eth_locals
    );

static const mp_rom_map_elem_t eth_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_stm32_eth) },
    { MP_ROM_QSTR(MP_QSTR_ETH), MP_ROM_PTR(&eth_type) },
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(ETH_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_OK), MP_ROM_INT(ETH_RXF_CSUM_OK) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_BAD), MP_ROM_INT(ETH_RXF_CSUM_BAD) },
    { MP_ROM_QSTR(MP_QSTR_RX_MAX), MP_ROM_INT(ETH_RX_MAX) },
    { MP_ROM_QSTR(MP_QSTR_MODEL), MP_ROM_INT(ZCDMA_HOST) },
};
static MP_DEFINE_CONST_DICT(eth_globals, eth_globals_table);

const mp_obj_module_t stm32_eth_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&eth_globals,
};
MP_REGISTER_MODULE(MP_QSTR_stm32_eth, stm32_eth_module);
