// zcpool: block pool shared by drivers and stack (see zcpool.h).
#include <string.h>
#include "py/runtime.h"
#include "py/objarray.h"
#include "zcpool.h"

static uint8_t zc_arena[ZCPOOL_NBLOCKS][ZCPOOL_BLOCK_SIZE] __attribute__((aligned(ZCPOOL_ALIGN)));
static uint8_t zc_refcnt[ZCPOOL_NBLOCKS];
static uint8_t zc_holder[ZCPOOL_NBLOCKS];
static int16_t zc_next_free[ZCPOOL_NBLOCKS];
static int16_t zc_free_head;
static uint16_t zc_nfree;
static uint16_t zc_held[ZCPOOL_NHOLDERS];
static uint16_t zc_quota[ZCPOOL_NHOLDERS];
static uint32_t zc_fail[ZCPOOL_NHOLDERS];
static uint32_t zc_bad_free;
static uint16_t zc_reserve;
static bool zc_ready;

void zcpool_init(void) {
    if (zc_ready) {
        return;
    }
    zc_free_head = -1;
    for (int i = ZCPOOL_NBLOCKS - 1; i >= 0; i--) {
        zc_refcnt[i] = 0;
        zc_holder[i] = 0;
        zc_next_free[i] = zc_free_head;
        zc_free_head = i;
    }
    zc_nfree = ZCPOOL_NBLOCKS;
    for (int h = 0; h < ZCPOOL_NHOLDERS; h++) {
        zc_held[h] = 0;
        zc_quota[h] = ZCPOOL_NBLOCKS;
        zc_fail[h] = 0;
    }
    zc_reserve = ZCPOOL_NBLOCKS / 8;
    zc_bad_free = 0;
    zc_ready = true;
}

static inline bool zc_is_rx_holder(int holder) {
    return holder == ZCPOOL_H_RXPOST || holder == ZCPOOL_H_RX;
}

int zcpool_alloc(int holder) {
    zcpool_init();
    if ((unsigned)holder >= ZCPOOL_NHOLDERS) {
        return -1;
    }
    unsigned floor = zc_is_rx_holder(holder) ? 0 : zc_reserve;
    if (zc_free_head < 0 || zc_nfree <= floor || zc_held[holder] >= zc_quota[holder]) {
        zc_fail[holder]++;
        return -1;
    }
    int idx = zc_free_head;
    zc_free_head = zc_next_free[idx];
    zc_next_free[idx] = -1;
    zc_nfree--;
    zc_refcnt[idx] = 1;
    zc_holder[idx] = holder;
    zc_held[holder]++;
    return idx;
}

static inline bool zc_live(int idx) {
    return (unsigned)idx < ZCPOOL_NBLOCKS && zc_refcnt[idx] != 0;
}

void zcpool_ref(int idx) {
    if (zc_live(idx) && zc_refcnt[idx] < 255) {
        zc_refcnt[idx]++;
    } else {
        zc_bad_free++;
    }
}

int zcpool_free(int idx) {
    if (!zc_live(idx)) {
        zc_bad_free++;
        return -1;
    }
    if (--zc_refcnt[idx] != 0) {
        return zc_refcnt[idx];
    }
    zc_held[zc_holder[idx]]--;
    zc_next_free[idx] = zc_free_head;
    zc_free_head = idx;
    zc_nfree++;
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
    // Keeping a block that came in on the RX path is, for the keeper, the
    // same as allocating one: it may not eat into the RX reserve either.
    // A TX ring hold is transient (it ends at the next reap, and H_TX's quota
    // bounds it): only keepers that hold blocks for long may not eat the reserve.
    bool leaves_rx = zc_is_rx_holder(from) && !zc_is_rx_holder(holder) && holder != ZCPOOL_H_TX;
    if (zc_held[holder] >= zc_quota[holder] || (leaves_rx && zc_nfree < zc_reserve)) {
        zc_fail[holder]++;
        return 0;
    }
    zc_held[from]--;
    zc_held[holder]++;
    zc_holder[idx] = holder;
    return 1;
}

uint8_t *zcpool_ptr(int idx) {
    return zc_arena[idx];
}

int zcpool_index(const void *p) {
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)zc_arena;
    if (a < base || a >= base + sizeof(zc_arena)) {
        return -1;
    }
    return (int)((a - base) / ZCPOOL_BLOCK_SIZE);
}

int zcpool_nfree(void) {
    zcpool_init();
    return zc_nfree;
}

int zcpool_refcnt(int idx) {
    return (unsigned)idx < ZCPOOL_NBLOCKS ? zc_refcnt[idx] : -1;
}

// ---- Python interface -------------------------------------------------------

MP_REGISTER_ROOT_POINTER(mp_obj_t zcpool_views);

static mp_obj_t zc_views(void) {
    if (MP_STATE_VM(zcpool_views) == MP_OBJ_NULL) {
        zcpool_init();
        mp_obj_t items[ZCPOOL_NBLOCKS];
        for (int i = 0; i < ZCPOOL_NBLOCKS; i++) {
            items[i] = mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW,
                ZCPOOL_BLOCK_SIZE, zc_arena[i]);
        }
        MP_STATE_VM(zcpool_views) = mp_obj_new_tuple(ZCPOOL_NBLOCKS, items);
    }
    return MP_STATE_VM(zcpool_views);
}

static int zc_arg_idx(mp_obj_t o) {
    mp_int_t i = mp_obj_get_int(o);
    if (i < 0 || i >= ZCPOOL_NBLOCKS) {
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

static mp_obj_t zc_py_ref(mp_obj_t idx) {
    int i = zc_arg_idx(idx);
    if (!zc_live(i)) {
        mp_raise_ValueError(MP_ERROR_TEXT("ref of a free block"));
    }
    if (zc_refcnt[i] == 255) {
        // 8-bit counts: a ref not taken must not look taken
        mp_raise_ValueError(MP_ERROR_TEXT("block refcount saturated"));
    }
    zcpool_ref(i);
    return MP_OBJ_NEW_SMALL_INT(zc_refcnt[i]);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_ref_obj, zc_py_ref);

static mp_obj_t zc_py_free(mp_obj_t idx) {
    int i = zc_arg_idx(idx);
    if (!zc_live(i)) {
        zc_bad_free++;
        mp_raise_ValueError(MP_ERROR_TEXT("free of a free block"));
    }
    return MP_OBJ_NEW_SMALL_INT(zcpool_free(i));
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

static mp_obj_t zc_py_held(mp_obj_t holder) {
    zcpool_init();
    return MP_OBJ_NEW_SMALL_INT(zc_held[zc_arg_holder(holder)]);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_held_obj, zc_py_held);

static mp_obj_t zc_py_room(mp_obj_t holder) {
    zcpool_init();
    int h = zc_arg_holder(holder);
    return MP_OBJ_NEW_SMALL_INT(zc_held[h] < zc_quota[h] ? zc_quota[h] - zc_held[h] : 0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_py_room_obj, zc_py_room);

static mp_obj_t zc_py_set_quota(mp_obj_t holder, mp_obj_t n) {
    zcpool_init();
    mp_int_t q = mp_obj_get_int(n);
    if (q < 0 || q > ZCPOOL_NBLOCKS) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad quota"));
    }
    zc_quota[zc_arg_holder(holder)] = q;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_py_set_quota_obj, zc_py_set_quota);

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

// Diagnostic snapshot (allocates; not for the per-packet path).
static mp_obj_t zc_py_stats(void) {
    zcpool_init();
    mp_obj_t d = mp_obj_new_dict(8);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_total), MP_OBJ_NEW_SMALL_INT(ZCPOOL_NBLOCKS));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_free), MP_OBJ_NEW_SMALL_INT(zc_nfree));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_reserve), MP_OBJ_NEW_SMALL_INT(zc_reserve));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_held), zc_list_u16(zc_held));
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_quota), zc_list_u16(zc_quota));
    mp_obj_t fl = mp_obj_new_list(0, NULL);
    for (int h = 0; h < ZCPOOL_NHOLDERS; h++) {
        mp_obj_list_append(fl, mp_obj_new_int_from_uint(zc_fail[h]));
    }
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_alloc_fail), fl);
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(MP_QSTR_bad_free), mp_obj_new_int_from_uint(zc_bad_free));
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_0(zc_py_stats_obj, zc_py_stats);

static const mp_rom_map_elem_t zcpool_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_zcpool) },
    { MP_ROM_QSTR(MP_QSTR_NBLOCKS), MP_ROM_INT(ZCPOOL_NBLOCKS) },
    { MP_ROM_QSTR(MP_QSTR_BLOCK_SIZE), MP_ROM_INT(ZCPOOL_BLOCK_SIZE) },
    { MP_ROM_QSTR(MP_QSTR_FRAME_OFFSET), MP_ROM_INT(ZCPOOL_FRAME_OFFSET) },
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
    { MP_ROM_QSTR(MP_QSTR_ref), MP_ROM_PTR(&zc_py_ref_obj) },
    { MP_ROM_QSTR(MP_QSTR_free), MP_ROM_PTR(&zc_py_free_obj) },
    { MP_ROM_QSTR(MP_QSTR_move), MP_ROM_PTR(&zc_py_move_obj) },
    { MP_ROM_QSTR(MP_QSTR_refcnt), MP_ROM_PTR(&zc_py_refcnt_obj) },
    { MP_ROM_QSTR(MP_QSTR_holder), MP_ROM_PTR(&zc_py_holder_obj) },
    { MP_ROM_QSTR(MP_QSTR_nfree), MP_ROM_PTR(&zc_py_nfree_obj) },
    { MP_ROM_QSTR(MP_QSTR_held), MP_ROM_PTR(&zc_py_held_obj) },
    { MP_ROM_QSTR(MP_QSTR_room), MP_ROM_PTR(&zc_py_room_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_quota), MP_ROM_PTR(&zc_py_set_quota_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_reserve), MP_ROM_PTR(&zc_py_set_reserve_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&zc_py_stats_obj) },
};
static MP_DEFINE_CONST_DICT(zcpool_globals, zcpool_globals_table);

const mp_obj_module_t zcpool_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&zcpool_globals,
};
MP_REGISTER_MODULE(MP_QSTR_zcpool, zcpool_module);
