// c6747_emac: the MicroPython binding, module `c6747_emac`, type `EMAC`: a
// thin layer over the portable core (c6747_emac.c) using the shared DMA glue
// (drivers/dma/zcdma_mp.h). The driver contract of docs/internals.md.
//
// On the unix build the EMAC is the behavioural model (model/), created
// with the driver; rx_poll/tx_reap first let its DMA run, deliver its
// interrupt to the core's ISR, then process with the budget. tx() only
// queues: tx_reap hands the queued frames to the EMAC (re-checking a lent
// mutable buffer there) and reports what finished.
#include <string.h>
#if ZCDMA_HOST
#include <poll.h>
#endif

#include "py/runtime.h"
#include "py/stream.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/gc.h"
#include "zcpool.h"
#include "zcdma_mp.h"
#include "c6747_emac.h"
#if ZCDMA_HOST
#include "model/c6747_model.h"
#endif

#define C6747_MP_MAX_SEG (C6747_MAX_SEG)

typedef struct {
    mp_obj_base_t base;
    c6747_emac_t core;
    mp_obj_t *objs;                // tx_n * MAX_SEG: kept reachable until reap
    zcdma_lent_t *lent;            // tx_n * MAX_SEG: lent storage, re-checked at the kick
    uint16_t tx_n;
    uint8_t closed;
    char name[20];
    #if ZCDMA_HOST
    c6747_model_t *model;
    uint32_t steps;                // model steps per pump
    #endif
} c6747_obj_t;

static c6747_obj_t *live(mp_obj_t self_in) {
    c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->closed) {
        mp_raise_OSError(MP_EBADF);
    }
    return self;
}

#if ZCDMA_HOST
// Frames queued but not yet handed to the EMAC.
static int unkicked(const c6747_emac_t *e) {
    for (unsigned i = 0; i < e->tx_count; i++) {
        if (e->tx[(e->tx_head + i) % e->cfg.tx_n].state == TXF_QUEUED) {
            return 1;
        }
    }
    return 0;
}
#endif

// The DMA runs (unix: the model), the interrupt reaches the ISR.
static void pump(c6747_obj_t *self) {
    #if ZCDMA_HOST
    c6747_model_run(self->model, self->steps);
    if (c6747_model_irq_take(self->model)) {
        c6747_emac_isr(&self->core);
    }
    #else
    // Polled mode: a port may call c6747_emac_isr() from the C0 interrupts instead.
    c6747_emac_isr(&self->core);
    #endif
}

static void settle(c6747_obj_t *self) {
    #if ZCDMA_HOST
    c6747_model_update_line(self->model, unkicked(&self->core));
    #else
    (void)self;
    #endif
}

// ---- RX -------------------------------------------------------------------------

static mp_obj_t c6747_rx_poll(mp_obj_t self_in, mp_obj_t budget_in, mp_obj_t out_in) {
    c6747_obj_t *self = live(self_in);
    mp_int_t budget = mp_obj_get_int(budget_in);
    size_t nout;
    int32_t *out = zcdma_mp_out(out_in, &nout);
    if (budget < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("budget < 0"));
    }
    if ((size_t)budget > nout / 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("out shorter than 3*budget"));
    }
    int got = 0;
    // Empty descriptors get their blocks before the DMA looks for one.
    if (self->core.rx_npark) {
        c6747_emac_rx_refill(&self->core);
    }
    // A few rounds: descriptors given back let the DMA place frames that waited.
    for (int round = 0; round < 4 && got < budget; round++) {
        pump(self);
        int k = c6747_emac_rx_poll(&self->core, (int)budget - got, out + 3 * got);
        if (k <= 0) {
            break;
        }
        got += k;
    }
    settle(self);
    return MP_OBJ_NEW_SMALL_INT(got);
}
static MP_DEFINE_CONST_FUN_OBJ_3(c6747_rx_poll_obj, c6747_rx_poll);

// ---- TX -------------------------------------------------------------------------

static void slot_clear(c6747_obj_t *self, unsigned s) {
    for (unsigned k = 0; k < C6747_MP_MAX_SEG; k++) {
        self->objs[s * C6747_MP_MAX_SEG + k] = MP_OBJ_NULL;
        self->lent[s * C6747_MP_MAX_SEG + k].ptr = NULL;
    }
}

static mp_obj_t c6747_tx(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    c6747_obj_t *self = live(args[0]);
    mp_int_t n = mp_obj_get_int(args[1]);
    mp_obj_t gather = args[2];
    mp_int_t cookie = mp_obj_get_int(args[3]);
    if (cookie < INT32_MIN || cookie > INT32_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("cookie out of range"));
    }
    zcdma_seg_t segs[ZCDMA_MAX_SEG];
    mp_obj_t objs[ZCDMA_MAX_SEG];
    uint32_t copied = 0;
    int r = zcdma_mp_gather(gather, n, C6747_MP_MAX_SEG, C6747_TX_MIN, C6747_RX_BUF, segs, objs, &copied);
    if (r == MP_ENOBUFS) {
        self->core.st[C6747_ST_TX_RING_FULL]++;
        return MP_OBJ_NEW_SMALL_INT(MP_ENOBUFS);
    }
    c6747_seg_t cs[C6747_MAX_SEG];
    for (mp_int_t k = 0; k < n; k++) {
        cs[k].ptr = segs[k].ptr;
        cs[k].bus = segs[k].bus;
        cs[k].len = segs[k].len;
        cs[k].blk = segs[k].blk;
    }
    int slot = c6747_emac_tx(&self->core, cs, (int)n, (int32_t)cookie);
    if (slot < 0) {
        zcdma_mp_release(segs, (size_t)n, objs);
        if (slot == -MP_ENOBUFS) {
            return MP_OBJ_NEW_SMALL_INT(MP_ENOBUFS);
        }
        mp_raise_ValueError(MP_ERROR_TEXT("frame needs more descriptors than the TX ring has"));
    }
    self->core.st[C6747_ST_TX_COPIED_BYTES] += copied;
    size_t glen;
    mp_obj_t *g;
    mp_obj_get_array(gather, &glen, &g);
    for (mp_int_t k = 0; k < n; k++) {
        unsigned i = (unsigned)slot * C6747_MP_MAX_SEG + (unsigned)k;
        self->objs[i] = objs[k];
        self->lent[i].ptr = NULL;
        if (segs[k].copied) {
            // Lent mutable storage: copied now, but the frame goes only if
            // that storage is still where it was when the EMAC gets it.
            self->objs[i] = g[3 * k];
            zcdma_mp_lent_record(g[3 * k], &self->lent[i]);
        }
    }
    settle(self);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(c6747_tx_obj, 4, 4, c6747_tx);

static int storage_stable(void *ctx, int slot) {
    c6747_obj_t *self = ctx;
    for (unsigned k = 0; k < C6747_MP_MAX_SEG; k++) {
        unsigned i = (unsigned)slot * C6747_MP_MAX_SEG + k;
        if (zcdma_mp_lent_moved(self->objs[i], &self->lent[i])) {
            return 0;
        }
    }
    return 1;
}

static mp_obj_t c6747_tx_reap(mp_obj_t self_in, mp_obj_t out_in) {
    c6747_obj_t *self = live(self_in);
    size_t nout;
    int32_t *out = zcdma_mp_out(out_in, &nout);
    c6747_emac_tx_kick(&self->core, storage_stable, self);
    pump(self);
    size_t m = 0;
    uint16_t slots[32];
    while (m < nout) {
        int chunk = nout - m < 32 ? (int)(nout - m) : 32;
        int k = c6747_emac_tx_reap(&self->core, out + m, slots, chunk);
        if (k <= 0) {
            break;
        }
        for (int j = 0; j < k; j++) {
            slot_clear(self, slots[j]);
        }
        m += (size_t)k;
        if (k < chunk) {
            break;
        }
    }
    settle(self);
    return MP_OBJ_NEW_SMALL_INT(m);
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_tx_reap_obj, c6747_tx_reap);

static mp_obj_t c6747_tx_room(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(c6747_emac_tx_room(&live(self_in)->core));
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_tx_room_obj, c6747_tx_room);

// ---- status ---------------------------------------------------------------------

static mp_obj_t c6747_link(mp_obj_t self_in) {
    c6747_obj_t *self = live(self_in);
    int up, speed, full;
    c6747_emac_link(&self->core, &up, &speed, &full);
    mp_obj_t t[3] = { mp_obj_new_bool(up), MP_OBJ_NEW_SMALL_INT(speed), mp_obj_new_bool(full) };
    return mp_obj_new_tuple(3, t);
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_link_obj, c6747_link);

static mp_obj_t c6747_stats(mp_obj_t self_in) {
    c6747_obj_t *self = live(self_in);
    return zcdma_mp_stats(c6747_stat_names, self->core.st, C6747_NSTATS);
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_stats_obj, c6747_stats);

static void do_close(c6747_obj_t *self) {
    if (self->closed) {
        return;
    }
    c6747_emac_close(&self->core);
    for (unsigned s = 0; s < self->tx_n; s++) {
        slot_clear(self, s);
    }
    #if ZCDMA_HOST
    c6747_model_shutdown(self->model);  // the queue wire stays: take() still works
    #endif
    self->closed = 1;
}

static mp_obj_t c6747_close(mp_obj_t self_in) {
    do_close(MP_OBJ_TO_PTR(self_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_close_obj, c6747_close);

static mp_obj_t c6747_del(mp_obj_t self_in) {
    c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
    do_close(self);
    #if ZCDMA_HOST
    c6747_model_free(self->model);
    self->model = NULL;
    #endif
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_del_obj, c6747_del);

static int the_fd(c6747_obj_t *self) {
    #if ZCDMA_HOST
    return c6747_model_fd(self->model);
    #else
    (void)self;
    return -1;
    #endif
}

static mp_obj_t c6747_fileno(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(the_fd(live(self_in)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_fileno_obj, c6747_fileno);

static mp_uint_t c6747_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        do_close(self);
        return 0;
    }
    if (self->closed) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    #if ZCDMA_HOST
    if (the_fd(self) < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    if (request == MP_STREAM_GET_FILENO) {
        return the_fd(self);
    }
    if (request == MP_STREAM_POLL) {
        struct pollfd p = { .fd = the_fd(self), .events = (arg & MP_STREAM_POLL_RD) ? POLLIN : 0 };
        if (poll(&p, 1, 0) < 0) {
            *errcode = MP_EIO;
            return MP_STREAM_ERROR;
        }
        return (p.revents & POLLIN) ? MP_STREAM_POLL_RD : 0;
    }
    #else
    if (request == MP_STREAM_POLL) {
        // A board: readable while a received packet waits for rx_poll.
        return ((arg & MP_STREAM_POLL_RD) && c6747_emac_rx_ready(&self->core)) ? MP_STREAM_POLL_RD : 0;
    }
    #endif
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static const mp_stream_p_t c6747_stream_p = {
    .ioctl = c6747_ioctl,
};

// ---- model and test controls (unix build) ----------------------------------------

#if ZCDMA_HOST
static mp_obj_t c6747_inject(mp_obj_t self_in, mp_obj_t frame) {
    c6747_obj_t *self = live(self_in);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(frame, &bi, MP_BUFFER_READ);
    int r = zcm_wire_inject(&self->model->wire, bi.buf, bi.len);
    settle(self);
    return MP_OBJ_NEW_SMALL_INT(r < 0 ? -r : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_inject_obj, c6747_inject);

static mp_obj_t c6747_take(mp_obj_t self_in, mp_obj_t buf) {
    c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_WRITE);
    if (self->model == NULL || !self->model->wire_open) {
        mp_raise_OSError(MP_EBADF);
    }
    int r = zcm_wire_take(&self->model->wire, bi.buf, bi.len);
    if (r < 0) {
        mp_raise_OSError(-r);
    }
    return MP_OBJ_NEW_SMALL_INT(r);
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_take_obj, c6747_take);

static mp_obj_t c6747_fault(mp_obj_t self_in, mp_obj_t name_in, mp_obj_t pm_in) {
    c6747_obj_t *self = live(self_in);
    int k = zcm_fault_kind(mp_obj_str_get_str(name_in));
    mp_int_t pm = mp_obj_get_int(pm_in);
    if (k < 0 || pm < 0 || pm > 1000000) {
        mp_raise_ValueError(MP_ERROR_TEXT("unknown fault or rate outside 0..1e6"));
    }
    self->model->faults.rate[k] = (uint32_t)pm;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(c6747_fault_obj, c6747_fault);

static mp_obj_t c6747_faults(mp_obj_t self_in) {
    c6747_obj_t *self = live(self_in);
    const char *names[ZCM_NFAULTS];
    for (int k = 0; k < ZCM_NFAULTS; k++) {
        names[k] = zcm_fault_name(k);
    }
    return zcdma_mp_stats(names, self->model->faults.injected, ZCM_NFAULTS);
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_faults_obj, c6747_faults);

static mp_obj_t c6747_link_set(mp_obj_t self_in, mp_obj_t up) {
    c6747_model_link_set(live(self_in)->model, mp_obj_is_true(up));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_link_set_obj, c6747_link_set);

static mp_obj_t c6747_model_stats(mp_obj_t self_in) {
    c6747_obj_t *self = live(self_in);
    c6747_model_t *m = self->model;
    mp_obj_t d = zcdma_mp_stats(c6747m_stat_names, m->st, C6747M_NSTATS);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_macstatus), mp_obj_new_int_from_uint(m->macstatus));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_host_error), MP_OBJ_NEW_SMALL_INT(m->host_error));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_queue_full), mp_obj_new_int_from_uint(m->wire.queue_full));
    static const char *const hw[] = { "RXSOFOVERRUNS", "RXMOFOVERRUNS", "RXDMAOVERRUNS", "RXCRCERRORS",
                                      "RXALIGNCODEERRORS", "RXOVERSIZED", "RXFILTERED", "RXGOODFRAMES", "TXGOODFRAMES" };
    static const uint16_t off[] = { EMAC_RXSOFOVERRUNS, EMAC_RXMOFOVERRUNS, EMAC_RXDMAOVERRUNS, EMAC_RXCRCERRORS,
                                    EMAC_RXALIGNCODEERRORS, EMAC_RXOVERSIZED, EMAC_RXFILTERED, EMAC_RXGOODFRAMES, EMAC_TXGOODFRAMES };
    for (size_t k = 0; k < MP_ARRAY_SIZE(off); k++) {
        mp_obj_dict_store(d, mp_obj_new_str(hw[k], strlen(hw[k])),
            mp_obj_new_int_from_uint(m->stats[(off[k] - EMAC_STATS_FIRST) / 4]));
    }
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_model_stats_obj, c6747_model_stats);

static mp_obj_t c6747_bus_stats(mp_obj_t self_in) {
    (void)self_in;
    static const char *const names[] = { "reads", "writes", "races", "cleans", "invals", "wmbs", "rmbs", "bad_access" };
    uint32_t v[8] = { zcdma_host_stats.reads, zcdma_host_stats.writes, zcdma_host_stats.races,
                      zcdma_host_stats.cleans, zcdma_host_stats.invals, zcdma_host_stats.wmbs,
                      zcdma_host_stats.rmbs, zcdma_host_stats.bad_access };
    return zcdma_mp_stats(names, v, 8);
}
static MP_DEFINE_CONST_FUN_OBJ_1(c6747_bus_stats_obj, c6747_bus_stats);

// Let the model run on its own (no driver processing): frames finish in the
// background between two driver calls, as on the chip.
static mp_obj_t c6747_model_run_m(mp_obj_t self_in, mp_obj_t steps) {
    c6747_obj_t *self = live(self_in);
    unsigned n = c6747_model_run(self->model, (unsigned)mp_obj_get_int(steps));
    settle(self);
    return MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_model_run_obj, c6747_model_run_m);

// Hold the DMA still (a slow EMAC): frames stay in flight until released.
static mp_obj_t c6747_hold(mp_obj_t self_in, mp_obj_t on) {
    live(self_in)->model->hold = mp_obj_is_true(on);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(c6747_hold_obj, c6747_hold);
#endif

// ---- construction -----------------------------------------------------------------

static mp_obj_t c6747_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_rx_ring, ARG_tx_ring, ARG_wire, ARG_tap, ARG_attach, ARG_queue_depth, ARG_seed, ARG_race,
           ARG_mac, ARG_promisc, ARG_pad, ARG_rx_maxlen, ARG_tx_desc, ARG_phy, ARG_error_frames, ARG_mcast };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_rx_ring, MP_ARG_INT, {.u_int = 16} },
        { MP_QSTR_tx_ring, MP_ARG_INT, {.u_int = 32} },
        { MP_QSTR_wire, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_QSTR(MP_QSTR_queue)} },
        { MP_QSTR_tap, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_QSTR(MP_QSTR_zc0)} },
        { MP_QSTR_attach, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_queue_depth, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 64} },
        { MP_QSTR_seed, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 1} },
        { MP_QSTR_race, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_mac, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_promisc, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = false} },
        { MP_QSTR_pad, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = C6747_ETH_ZLEN} },
        { MP_QSTR_rx_maxlen, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 1518} },
        { MP_QSTR_tx_desc, MP_ARG_KW_ONLY | MP_ARG_INT, {.u_int = 0} },
        { MP_QSTR_phy, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_QSTR(MP_QSTR_ksz8893)} },
        { MP_QSTR_error_frames, MP_ARG_KW_ONLY | MP_ARG_BOOL, {.u_bool = true} },
        { MP_QSTR_mcast, MP_ARG_KW_ONLY | MP_ARG_OBJ, {.u_obj = mp_const_none} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, a);
    c6747_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    mp_int_t rxn = a[ARG_rx_ring].u_int, txn = a[ARG_tx_ring].u_int, txd = a[ARG_tx_desc].u_int;
    if (rxn < 1 || rxn > C6747_MAX_RX || txn < 1 || txn > C6747_MAX_TX || txd < 0 || txd + rxn > (mp_int_t)C6747_NDESC) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad ring size"));
    }
    mp_int_t pad = a[ARG_pad].u_int, maxlen = a[ARG_rx_maxlen].u_int;
    if (pad < 0 || pad > 64 || maxlen < 64 || maxlen > 0xFFFF) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad pad or rx_maxlen"));
    }
    static const uint8_t default_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
    memcpy(cfg.mac, default_mac, 6);
    if (a[ARG_mac].u_obj != MP_OBJ_NULL) {
        mp_buffer_info_t bi;
        mp_get_buffer_raise(a[ARG_mac].u_obj, &bi, MP_BUFFER_READ);
        if (bi.len != 6) {
            mp_raise_ValueError(MP_ERROR_TEXT("a MAC address is 6 bytes"));
        }
        memcpy(cfg.mac, bi.buf, 6);
    }
    if (a[ARG_mcast].u_obj != mp_const_none) {
        size_t nm;
        mp_obj_t *ms;
        mp_obj_get_array(a[ARG_mcast].u_obj, &nm, &ms);
        for (size_t k = 0; k < nm; k++) {
            mp_buffer_info_t bi;
            mp_get_buffer_raise(ms[k], &bi, MP_BUFFER_READ);
            if (bi.len != 6) {
                mp_raise_ValueError(MP_ERROR_TEXT("a MAC address is 6 bytes"));
            }
            c6747_emac_hash_add(&cfg, bi.buf);
        }
    }
    cfg.rx_n = (uint16_t)rxn;
    cfg.tx_n = (uint16_t)txn;
    cfg.tx_desc = (uint16_t)txd;
    cfg.rx_maxlen = (uint16_t)maxlen;
    cfg.pad = (uint16_t)pad;
    cfg.promisc = a[ARG_promisc].u_bool;
    cfg.no_error_frames = !a[ARG_error_frames].u_bool;
    const char *phy = mp_obj_str_get_str(a[ARG_phy].u_obj);
    int phy_kind;
    if (strcmp(phy, "none") == 0) {
        phy_kind = 0;
    } else if (strcmp(phy, "ksz8893") == 0) {
        phy_kind = 1;
    } else if (strcmp(phy, "lan8710a") == 0) {
        phy_kind = 2;
    } else {
        mp_raise_ValueError(MP_ERROR_TEXT("phy: none, ksz8893 or lan8710a"));
    }
    const char *wire = mp_obj_str_get_str(a[ARG_wire].u_obj);
    int tap = strcmp(wire, "tap") == 0;
    if (!tap && strcmp(wire, "queue") != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("wire: queue or tap"));
    }
    mp_int_t depth = a[ARG_queue_depth].u_int, race = a[ARG_race].u_int;
    if (depth < 1 || depth > 4096 || race < 0 || race > 1000000) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad queue_depth or race"));
    }
    zcdma_mp_map_regions();
    // Python-heap allocations first: a MemoryError then leaks no fd.
    c6747_obj_t *self = mp_obj_malloc_with_finaliser(c6747_obj_t, type);
    self->closed = 1;
    self->tx_n = (uint16_t)txn;
    self->objs = m_new0(mp_obj_t, (size_t)txn * C6747_MP_MAX_SEG);
    self->lent = m_new0(zcdma_lent_t, (size_t)txn * C6747_MP_MAX_SEG);
    zcpool_init();
    zcdma_addr_t base = C6747_CPPI_RAM_BASE;
    #if ZCDMA_HOST
    static unsigned seq;
    int err = 0;
    char name[20] = "";
    const char *tapname = tap ? mp_obj_str_get_str(a[ARG_tap].u_obj) : NULL;
    self->model = c6747_model_new(tapname, a[ARG_attach].u_bool, (unsigned)depth,
        (uint64_t)a[ARG_seed].u_int, phy_kind, &err, name, sizeof(name));
    if (self->model == NULL) {
        mp_raise_OSError(-err);
    }
    base = self->model->base;
    self->steps = 4u * ((unsigned)rxn + (unsigned)txn) + 64u;
    if (tap) {
        memcpy(self->name, name, sizeof(self->name));
    } else {
        snprintf(self->name, sizeof(self->name), "c6747q%u", seq++);
    }
    #else
    (void)phy_kind;
    (void)depth;
    (void)race;
    strcpy(self->name, "emac0");
    #endif
    int r = c6747_emac_init(&self->core, base, &cfg);
    if (r < 0) {
        #if ZCDMA_HOST
        c6747_model_free(self->model);
        self->model = NULL;
        #endif
        mp_raise_OSError(-r);
    }
    self->closed = 0;
    #if ZCDMA_HOST
    if (race) {
        zcdma_host_race(self->model, (uint32_t)race, (uint64_t)a[ARG_seed].u_int * 7919u + 17u);
    }
    settle(self);
    #endif
    return MP_OBJ_FROM_PTR(self);
}

static void c6747_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (attr == MP_QSTR_name && dest[0] == MP_OBJ_NULL) {
        c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
        dest[0] = mp_obj_new_str(self->name, strlen(self->name));
        return;
    }
    dest[1] = MP_OBJ_SENTINEL;
}

static void c6747_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    c6747_obj_t *self = MP_OBJ_TO_PTR(self_in);
    (void)kind;
    mp_printf(print, "<EMAC %s rx_ring=%u tx_ring=%u%s>", self->name, self->core.cfg.rx_n, self->tx_n,
        self->closed ? " closed" : "");
}

static const mp_rom_map_elem_t c6747_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(C6747_MP_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_rx_poll), MP_ROM_PTR(&c6747_rx_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx), MP_ROM_PTR(&c6747_tx_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_reap), MP_ROM_PTR(&c6747_tx_reap_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_room), MP_ROM_PTR(&c6747_tx_room_obj) },
    { MP_ROM_QSTR(MP_QSTR_link), MP_ROM_PTR(&c6747_link_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&c6747_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&c6747_fileno_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&c6747_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&c6747_del_obj) },
    #if ZCDMA_HOST
    { MP_ROM_QSTR(MP_QSTR_inject), MP_ROM_PTR(&c6747_inject_obj) },
    { MP_ROM_QSTR(MP_QSTR_take), MP_ROM_PTR(&c6747_take_obj) },
    { MP_ROM_QSTR(MP_QSTR_fault), MP_ROM_PTR(&c6747_fault_obj) },
    { MP_ROM_QSTR(MP_QSTR_faults), MP_ROM_PTR(&c6747_faults_obj) },
    { MP_ROM_QSTR(MP_QSTR_link_set), MP_ROM_PTR(&c6747_link_set_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_stats), MP_ROM_PTR(&c6747_model_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_bus_stats), MP_ROM_PTR(&c6747_bus_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_run), MP_ROM_PTR(&c6747_model_run_obj) },
    { MP_ROM_QSTR(MP_QSTR_stall), MP_ROM_PTR(&c6747_hold_obj) },
    #endif
};
static MP_DEFINE_CONST_DICT(c6747_locals, c6747_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    c6747_type,
    MP_QSTR_EMAC,
    MP_TYPE_FLAG_NONE,
    make_new, c6747_make_new,
    print, c6747_print,
    attr, c6747_attr,
    protocol, &c6747_stream_p,
    locals_dict, &c6747_locals
    );

static const mp_rom_map_elem_t c6747_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_c6747_emac) },
    { MP_ROM_QSTR(MP_QSTR_EMAC), MP_ROM_PTR(&c6747_type) },
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(C6747_MP_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_OK), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_BAD), MP_ROM_INT(2) },
};
static MP_DEFINE_CONST_DICT(c6747_globals, c6747_globals_table);

const mp_obj_module_t c6747_emac_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&c6747_globals,
};
MP_REGISTER_MODULE(MP_QSTR_c6747_emac, c6747_emac_module);
