// zcpool: block pool shared by drivers and stack (see zcpool.h).
//
// The pool itself is plain C99 (a MAC driver's portable core and its C test
// programs link it with -DZCPOOL_NO_MP); the Python interface follows it.
#include <stdbool.h>
#include <string.h>
#include "zcpool.h"
#ifndef ZCPOOL_NO_MP
#include "py/runtime.h"
#include "py/objarray.h"
#endif

static uint8_t zc_arena[ZCPOOL_NBLOCKS][ZCPOOL_BLOCK_SIZE] __attribute__((aligned(ZCPOOL_ALIGN)));
static uint8_t zc_harena[ZCPOOL_HNBLOCKS][ZCPOOL_HDR_SIZE] __attribute__((aligned(ZCPOOL_ALIGN)));

// Per block, both classes, indexed as one space.
static uint8_t zc_refcnt[ZCPOOL_NTOTAL];
static uint8_t zc_holder[ZCPOOL_NTOTAL];
static int16_t zc_next_free[ZCPOOL_NTOTAL];

// Per class: 0 = frame blocks, 1 = header blocks.
typedef struct {
    int16_t first, count;          // index range [first, first+count)
    int16_t free_head;
    uint16_t nfree;
    uint16_t held[ZCPOOL_NHOLDERS];
    uint16_t quota[ZCPOOL_NHOLDERS];
    uint32_t fail[ZCPOOL_NHOLDERS];
} zc_class_t;

static zc_class_t zc_cls[2];
static uint32_t zc_bad_free;
static uint32_t zc_bad_ref;
static uint16_t zc_reserve;        // frame blocks only
static bool zc_ready;

static void zc_class_init(zc_class_t *c, int first, int count) {
    c->first = first;
    c->count = count;
    c->free_head = -1;
    // LIFO free list, lowest index handed out first.
    for (int i = first + count - 1; i >= first; i--) {
        zc_refcnt[i] = 0;
        zc_holder[i] = 0;
        zc_next_free[i] = c->free_head;
        c->free_head = i;
    }
    c->nfree = count;
    for (int h = 0; h < ZCPOOL_NHOLDERS; h++) {
        c->held[h] = 0;
        c->quota[h] = count;
        c->fail[h] = 0;
    }
}

void zcpool_init(void) {
    if (zc_ready) {
        return;
    }
    zc_class_init(&zc_cls[0], 0, ZCPOOL_NBLOCKS);
    zc_class_init(&zc_cls[1], ZCPOOL_NBLOCKS, ZCPOOL_HNBLOCKS);
    zc_reserve = ZCPOOL_NBLOCKS / 8;
    zc_bad_free = 0;
    zc_bad_ref = 0;
    zc_ready = true;
}

static inline bool zc_is_rx_holder(int holder) {
    return holder == ZCPOOL_H_RXPOST || holder == ZCPOOL_H_RX;
}

static inline bool zc_valid(int idx) {
    return (unsigned)idx < ZCPOOL_NTOTAL;
}

int zcpool_is_hdr(int idx) {
    return idx >= ZCPOOL_NBLOCKS && idx < ZCPOOL_NTOTAL;
}

static inline zc_class_t *zc_class_of(int idx) {
    return &zc_cls[idx >= ZCPOOL_NBLOCKS];
}

static inline bool zc_live(int idx) {
    return zc_valid(idx) && zc_refcnt[idx] != 0;
}

static int zc_take(zc_class_t *c, int holder, unsigned floor) {
    if (c->free_head < 0 || c->nfree <= floor || c->held[holder] >= c->quota[holder]) {
        c->fail[holder]++;
        return -1;
    }
    int idx = c->free_head;
    c->free_head = zc_next_free[idx];
    zc_next_free[idx] = -1;
    c->nfree--;
    zc_refcnt[idx] = 1;
    zc_holder[idx] = holder;
    c->held[holder]++;
    return idx;
}

int zcpool_alloc(int holder) {
    zcpool_init();
    if ((unsigned)holder >= ZCPOOL_NHOLDERS) {
        return -1;
    }
    return zc_take(&zc_cls[0], holder, zc_is_rx_holder(holder) ? 0 : zc_reserve);
}

int zcpool_alloc_hdr(int holder) {
    zcpool_init();
    if ((unsigned)holder >= ZCPOOL_NHOLDERS) {
        return -1;
    }
    return zc_take(&zc_cls[1], holder, 0);
}

int zcpool_ref(int idx) {
    if (!zc_live(idx) || zc_refcnt[idx] == 255) {
        // 8-bit counts: a reference not taken must never look taken.
        zc_bad_ref++;
        return -1;
    }
    return ++zc_refcnt[idx];
}

int zcpool_free(int idx) {
    if (!zc_live(idx)) {
        zc_bad_free++;
        return -1;
    }
    if (--zc_refcnt[idx] != 0) {
        return zc_refcnt[idx];
    }
    zc_class_t *c = zc_class_of(idx);
    c->held[zc_holder[idx]]--;
    zc_next_free[idx] = c->free_head;
    c->free_head = idx;
    c->nfree++;
    return 0;
}

int zcpool_move(int idx, int holder) {
    if (!zc_live(idx) || (unsigned)holder >= ZCPOOL_NHOLDERS) {
        return 0;
    }
    int from = zc_holder[idx];
    if (from == holder) {
        return 1;
    }
    zc_class_t *c = zc_class_of(idx);
    // Keeping a frame block that came in on the RX path is, for the keeper,
    // the same as allocating one: it may not eat into the RX reserve either.
    // A TX ring hold is transient (it ends at the next reap, and H_TX's quota
    // bounds it): only keepers that hold blocks for long may not eat the reserve.
    bool leaves_rx = c == &zc_cls[0] && zc_is_rx_holder(from) && !zc_is_rx_holder(holder)
        && holder != ZCPOOL_H_TX;
    if (c->held[holder] >= c->quota[holder] || (leaves_rx && c->nfree < zc_reserve)) {
        c->fail[holder]++;
        return 0;
    }
    c->held[from]--;
    c->held[holder]++;
    zc_holder[idx] = holder;
    return 1;
}

uint8_t *zcpool_ptr(int idx) {
    if (idx >= 0 && idx < ZCPOOL_NBLOCKS) {
        return zc_arena[idx];
    }
    if (zcpool_is_hdr(idx)) {
        return zc_harena[idx - ZCPOOL_NBLOCKS];
    }
    return NULL;
}

int zcpool_index(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t base = (uintptr_t)zc_arena;
    if (a >= base && a < base + sizeof(zc_arena)) {
        return (int)((a - base) / ZCPOOL_BLOCK_SIZE);
    }
    base = (uintptr_t)zc_harena;
    if (a >= base && a < base + sizeof(zc_harena)) {
        return ZCPOOL_NBLOCKS + (int)((a - base) / ZCPOOL_HDR_SIZE);
    }
    return -1;
}

int zcpool_size(int idx) {
    if (idx >= 0 && idx < ZCPOOL_NBLOCKS) {
        return ZCPOOL_BLOCK_SIZE;
    }
    return zcpool_is_hdr(idx) ? ZCPOOL_HDR_SIZE : 0;
}

int zcpool_nfree(void) {
    zcpool_init();
    return zc_cls[0].nfree;
}

int zcpool_hnfree(void) {
    zcpool_init();
    return zc_cls[1].nfree;
}

int zcpool_refcnt(int idx) {
    return zc_valid(idx) ? zc_refcnt[idx] : -1;
}

#ifndef ZCPOOL_NO_MP
// ---- Python interface -------------------------------------------------------

MP_REGISTER_ROOT_POINTER(mp_obj_t zcpool_views);

// One memoryview per block, both classes, made once: block(i) allocates nothing.
static mp_obj_t zc_views(void) {
    if (MP_STATE_VM(zcpool_views) == MP_OBJ_NULL) {
        zcpool_init();
        mp_obj_tuple_t *t = MP_OBJ_TO_PTR(mp_obj_new_tuple(ZCPOOL_NTOTAL, NULL));
        for (int i = 0; i < ZCPOOL_NTOTAL; i++) {
            t->items[i] = mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW,
                zcpool_size(i), zcpool_ptr(i));
        }
        MP_STATE_VM(zcpool_views) = MP_OBJ_FROM_PTR(t);
    }
    return MP_STATE_VM(zcpool_views);
}

static int zc_arg_idx(mp_obj_t o) {
    mp_int_t i = mp_obj_get_int(o);
    if (i < 0 || i >= ZCPOOL_NTOTAL) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad block index"));
    }
    return (int)i;
}

static int zc_arg_holder(mp_obj_t o) {
    mp_int_t h = mp_obj_get_int(o);
    if (h < 0 || h >= ZCPOOL_NHOLDERS) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad holder"));
    }
    return (int)h;
}

static mp_obj_t zc_py_blocks(void) {
    return zc_views();
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_py_blocks_obj, zc_py_blocks);

static mp_obj_t zc_py_block(mp_obj_t idx) {
    return ((mp_obj_tuple_t *)MP_OBJ_TO_PTR(zc_views()))->items[zc_arg_idx(idx)];
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_block_obj, zc_py_block);

static mp_obj_t zc_py_alloc(mp_obj_t holder) {
    return MP_OBJ_NEW_SMALL_INT(zcpool_alloc(zc_arg_holder(holder)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_alloc_obj, zc_py_alloc);

static mp_obj_t zc_py_alloc_hdr(mp_obj_t holder) {
    return MP_OBJ_NEW_SMALL_INT(zcpool_alloc_hdr(zc_arg_holder(holder)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_alloc_hdr_obj, zc_py_alloc_hdr);

static mp_obj_t zc_py_is_hdr(mp_obj_t idx) {
    return mp_obj_new_bool(zcpool_is_hdr(zc_arg_idx(idx)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_is_hdr_obj, zc_py_is_hdr);

// Storage nobody can change: bytes, or a read-only memoryview (whose base is
// bytes: MicroPython has no other read-only buffer). What a ROM pbuf may hold.
static mp_obj_t zc_py_readonly(mp_obj_t o) {
    if (mp_obj_is_type(o, &mp_type_bytes)) {
        return mp_const_true;
    }
    if (mp_obj_is_type(o, &mp_type_memoryview)) {
        mp_obj_array_t *a = MP_OBJ_TO_PTR(o);
        return mp_obj_new_bool(!(a->typecode & MP_OBJ_ARRAY_TYPECODE_FLAG_RW));
    }
    return mp_const_false;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_readonly_obj, zc_py_readonly);

static mp_obj_t zc_py_ref(mp_obj_t idx) {
    int i = zc_arg_idx(idx);
    bool was_free = !zc_live(i);
    int n = zcpool_ref(i);
    if (n < 0) {
        // counted as bad_ref by zcpool_ref
        mp_raise_ValueError(was_free ? MP_ERROR_TEXT("ref of a free block")
                                     : MP_ERROR_TEXT("block refcount saturated"));
    }
    return MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_ref_obj, zc_py_ref);

static mp_obj_t zc_py_free(mp_obj_t idx) {
    int n = zcpool_free(zc_arg_idx(idx));
    if (n < 0) {
        // counted as bad_free by zcpool_free
        mp_raise_ValueError(MP_ERROR_TEXT("free of a free block"));
    }
    return MP_OBJ_NEW_SMALL_INT(n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_free_obj, zc_py_free);

static mp_obj_t zc_py_move(mp_obj_t idx, mp_obj_t holder) {
    return mp_obj_new_bool(zcpool_move(zc_arg_idx(idx), zc_arg_holder(holder)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_py_move_obj, zc_py_move);

static mp_obj_t zc_py_refcnt(mp_obj_t idx) {
    return MP_OBJ_NEW_SMALL_INT(zc_refcnt[zc_arg_idx(idx)]);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_refcnt_obj, zc_py_refcnt);

static mp_obj_t zc_py_holder(mp_obj_t idx) {
    int i = zc_arg_idx(idx);
    return MP_OBJ_NEW_SMALL_INT(zc_refcnt[i] ? zc_holder[i] : -1);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_holder_obj, zc_py_holder);

static mp_obj_t zc_py_nfree(void) {
    return MP_OBJ_NEW_SMALL_INT(zcpool_nfree());
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_py_nfree_obj, zc_py_nfree);

static mp_obj_t zc_py_hnfree(void) {
    return MP_OBJ_NEW_SMALL_INT(zcpool_hnfree());
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_py_hnfree_obj, zc_py_hnfree);

static mp_obj_t zc_held_of(int cls, mp_obj_t holder) {
    zcpool_init();
    return MP_OBJ_NEW_SMALL_INT(zc_cls[cls].held[zc_arg_holder(holder)]);
}

static mp_obj_t zc_room_of(int cls, mp_obj_t holder) {
    zcpool_init();
    zc_class_t *c = &zc_cls[cls];
    int h = zc_arg_holder(holder);
    return MP_OBJ_NEW_SMALL_INT(c->held[h] < c->quota[h] ? c->quota[h] - c->held[h] : 0);
}

static void zc_set_quota_of(int cls, mp_obj_t holder, mp_obj_t n) {
    zcpool_init();
    zc_class_t *c = &zc_cls[cls];
    mp_int_t q = mp_obj_get_int(n);
    if (q < 0 || q > c->count) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad quota"));
    }
    c->quota[zc_arg_holder(holder)] = q;
}

static mp_obj_t zc_py_held(mp_obj_t holder) {
    return zc_held_of(0, holder);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_held_obj, zc_py_held);

static mp_obj_t zc_py_hheld(mp_obj_t holder) {
    return zc_held_of(1, holder);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_hheld_obj, zc_py_hheld);

static mp_obj_t zc_py_room(mp_obj_t holder) {
    return zc_room_of(0, holder);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_room_obj, zc_py_room);

static mp_obj_t zc_py_hroom(mp_obj_t holder) {
    return zc_room_of(1, holder);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_hroom_obj, zc_py_hroom);

static mp_obj_t zc_py_set_quota(mp_obj_t holder, mp_obj_t n) {
    zc_set_quota_of(0, holder, n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_py_set_quota_obj, zc_py_set_quota);

static mp_obj_t zc_py_set_hquota(mp_obj_t holder, mp_obj_t n) {
    zc_set_quota_of(1, holder, n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_py_set_hquota_obj, zc_py_set_hquota);

static mp_obj_t zc_py_set_reserve(mp_obj_t n) {
    zcpool_init();
    mp_int_t r = mp_obj_get_int(n);
    if (r < 0 || r > ZCPOOL_NBLOCKS) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad reserve"));
    }
    zc_reserve = r;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_set_reserve_obj, zc_py_set_reserve);

static mp_obj_t zc_list_u16(const uint16_t *v) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (int h = 0; h < ZCPOOL_NHOLDERS; h++) {
        mp_obj_list_append(l, MP_OBJ_NEW_SMALL_INT(v[h]));
    }
    return l;
}

static mp_obj_t zc_list_u32(const uint32_t *v) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (int h = 0; h < ZCPOOL_NHOLDERS; h++) {
        mp_obj_list_append(l, mp_obj_new_int_from_uint(v[h]));
    }
    return l;
}

static void zc_put(mp_obj_t d, qstr k, mp_obj_t v) {
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(k), v);
}

// Diagnostic snapshot (allocates; not for the per-packet path).
static mp_obj_t zc_py_stats(void) {
    zcpool_init();
    const zc_class_t *f = &zc_cls[0], *h = &zc_cls[1];
    mp_obj_t d = mp_obj_new_dict(14);
    zc_put(d, MP_QSTR_total, MP_OBJ_NEW_SMALL_INT(ZCPOOL_NBLOCKS));
    zc_put(d, MP_QSTR_free, MP_OBJ_NEW_SMALL_INT(f->nfree));
    zc_put(d, MP_QSTR_reserve, MP_OBJ_NEW_SMALL_INT(zc_reserve));
    zc_put(d, MP_QSTR_held, zc_list_u16(f->held));
    zc_put(d, MP_QSTR_quota, zc_list_u16(f->quota));
    zc_put(d, MP_QSTR_alloc_fail, zc_list_u32(f->fail));
    zc_put(d, MP_QSTR_bad_free, mp_obj_new_int_from_uint(zc_bad_free));
    zc_put(d, MP_QSTR_bad_ref, mp_obj_new_int_from_uint(zc_bad_ref));
    zc_put(d, MP_QSTR_hdr_total, MP_OBJ_NEW_SMALL_INT(ZCPOOL_HNBLOCKS));
    zc_put(d, MP_QSTR_hdr_free, MP_OBJ_NEW_SMALL_INT(h->nfree));
    zc_put(d, MP_QSTR_hdr_held, zc_list_u16(h->held));
    zc_put(d, MP_QSTR_hdr_quota, zc_list_u16(h->quota));
    zc_put(d, MP_QSTR_hdr_alloc_fail, zc_list_u32(h->fail));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_py_stats_obj, zc_py_stats);

static const mp_rom_map_elem_t zcpool_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_zcpool) },
    { MP_ROM_QSTR(MP_QSTR_NBLOCKS), MP_ROM_INT(ZCPOOL_NBLOCKS) },
    { MP_ROM_QSTR(MP_QSTR_BLOCK_SIZE), MP_ROM_INT(ZCPOOL_BLOCK_SIZE) },
    { MP_ROM_QSTR(MP_QSTR_FRAME_OFFSET), MP_ROM_INT(ZCPOOL_FRAME_OFFSET) },
    { MP_ROM_QSTR(MP_QSTR_HNBLOCKS), MP_ROM_INT(ZCPOOL_HNBLOCKS) },
    { MP_ROM_QSTR(MP_QSTR_HDR_SIZE), MP_ROM_INT(ZCPOOL_HDR_SIZE) },
    { MP_ROM_QSTR(MP_QSTR_NHOLDERS), MP_ROM_INT(ZCPOOL_NHOLDERS) },
    { MP_ROM_QSTR(MP_QSTR_H_RXPOST), MP_ROM_INT(ZCPOOL_H_RXPOST) },
    { MP_ROM_QSTR(MP_QSTR_H_RX), MP_ROM_INT(ZCPOOL_H_RX) },
    { MP_ROM_QSTR(MP_QSTR_H_REASM), MP_ROM_INT(ZCPOOL_H_REASM) },
    { MP_ROM_QSTR(MP_QSTR_H_ARPQ), MP_ROM_INT(ZCPOOL_H_ARPQ) },
    { MP_ROM_QSTR(MP_QSTR_H_UDP), MP_ROM_INT(ZCPOOL_H_UDP) },
    { MP_ROM_QSTR(MP_QSTR_H_TCP), MP_ROM_INT(ZCPOOL_H_TCP) },
    { MP_ROM_QSTR(MP_QSTR_H_TX), MP_ROM_INT(ZCPOOL_H_TX) },
    { MP_ROM_QSTR(MP_QSTR_H_APP), MP_ROM_INT(ZCPOOL_H_APP) },
    { MP_ROM_QSTR(MP_QSTR_blocks), MP_ROM_PTR(&zc_py_blocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_block), MP_ROM_PTR(&zc_py_block_obj) },
    { MP_ROM_QSTR(MP_QSTR_alloc), MP_ROM_PTR(&zc_py_alloc_obj) },
    { MP_ROM_QSTR(MP_QSTR_alloc_hdr), MP_ROM_PTR(&zc_py_alloc_hdr_obj) },
    { MP_ROM_QSTR(MP_QSTR_is_hdr), MP_ROM_PTR(&zc_py_is_hdr_obj) },
    { MP_ROM_QSTR(MP_QSTR_readonly), MP_ROM_PTR(&zc_py_readonly_obj) },
    { MP_ROM_QSTR(MP_QSTR_ref), MP_ROM_PTR(&zc_py_ref_obj) },
    { MP_ROM_QSTR(MP_QSTR_free), MP_ROM_PTR(&zc_py_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_move), MP_ROM_PTR(&zc_py_move_obj) },
    { MP_ROM_QSTR(MP_QSTR_refcnt), MP_ROM_PTR(&zc_py_refcnt_obj) },
    { MP_ROM_QSTR(MP_QSTR_holder), MP_ROM_PTR(&zc_py_holder_obj) },
    { MP_ROM_QSTR(MP_QSTR_nfree), MP_ROM_PTR(&zc_py_nfree_obj) },
    { MP_ROM_QSTR(MP_QSTR_hnfree), MP_ROM_PTR(&zc_py_hnfree_obj) },
    { MP_ROM_QSTR(MP_QSTR_held), MP_ROM_PTR(&zc_py_held_obj) },
    { MP_ROM_QSTR(MP_QSTR_hheld), MP_ROM_PTR(&zc_py_hheld_obj) },
    { MP_ROM_QSTR(MP_QSTR_room), MP_ROM_PTR(&zc_py_room_obj) },
    { MP_ROM_QSTR(MP_QSTR_hroom), MP_ROM_PTR(&zc_py_hroom_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_quota), MP_ROM_PTR(&zc_py_set_quota_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_hquota), MP_ROM_PTR(&zc_py_set_hquota_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_reserve), MP_ROM_PTR(&zc_py_set_reserve_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&zc_py_stats_obj) },
};
static MP_DEFINE_CONST_DICT(zcpool_globals, zcpool_globals_table);

const mp_obj_module_t zcpool_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&zcpool_globals,
};
MP_REGISTER_MODULE(MP_QSTR_zcpool, zcpool_module);
#endif // ZCPOOL_NO_MP
