// zcdma_mp: gather resolution, reference holding and stats for DMA drivers. See zcdma_mp.h.
#include <string.h>

#include "py/runtime.h"
#include "py/mperrno.h"
#include "py/objarray.h"
#include "py/objstr.h"
#include "py/gc.h"
#include "py/mpstate.h"
#include "zcpool.h"
#include "zcdma_mp.h"

#if ZCDMA_HOST
// The program image as GNU ld lays it out: text, read-only data, data.
extern const char __executable_start[];
extern const char edata[];
#endif

void zcdma_mp_map_regions(void) {
    #if ZCDMA_HOST
    static int done;
    if (done) {
        return;
    }
    zcpool_init();
    zcdma_map(zcpool_ptr(0), (size_t)ZCPOOL_NBLOCKS * ZCPOOL_BLOCK_SIZE, ZCDMA_RAM_RW);
    zcdma_map(zcpool_ptr(ZCPOOL_NBLOCKS), (size_t)ZCPOOL_HNBLOCKS * ZCPOOL_HDR_SIZE, ZCDMA_RAM_RW);
    byte *h0 = MP_STATE_MEM(area).gc_pool_start;
    byte *h1 = MP_STATE_MEM(area).gc_pool_end;
    zcdma_map(h0, (size_t)(h1 - h0), ZCDMA_RAM_RO);
    zcdma_map(__executable_start, (size_t)(edata - __executable_start), ZCDMA_RAM_RO);
    done = 1;
    #endif
}

int32_t *zcdma_mp_out(mp_obj_t out, size_t *n_items) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(out, &bi, MP_BUFFER_WRITE);
    if (bi.typecode != 'i') {
        mp_raise_TypeError(MP_ERROR_TEXT("out must be array('i')"));
    }
    *n_items = bi.len / sizeof(int32_t);
    return bi.buf;
}

mp_obj_t zcdma_mp_stats(const char *const *names, const uint32_t *values, size_t n) {
    mp_obj_t d = mp_obj_new_dict(n);
    for (size_t k = 0; k < n; k++) {
        mp_obj_dict_store(d, mp_obj_new_str(names[k], strlen(names[k])), mp_obj_new_int_from_uint(values[k]));
    }
    return d;
}

// Immutable storage: bytes/str, or a read-only memoryview (its base is bytes).
static bool stable_object(mp_obj_t o) {
    if (mp_obj_is_str_or_bytes(o)) {
        return true;
    }
    if (mp_obj_is_type(o, &mp_type_memoryview)) {
        mp_obj_array_t *a = MP_OBJ_TO_PTR(o);
        return !(a->typecode & MP_OBJ_ARRAY_TYPECODE_FLAG_RW);
    }
    return false;
}

// One gather entry: what pass 1 learned, before anything is taken.
typedef struct {
    uint8_t *ptr;
    int blk;                       // block to reference (or -1)
    bool copy;                     // mutable storage: to be copied into a block
} seg_plan_t;

static void plan_entry(mp_obj_t buf, mp_int_t off, mp_int_t len, seg_plan_t *pl) {
    if (off < 0 || len < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad gather off/len"));
    }
    pl->copy = false;
    pl->blk = -1;
    if (mp_obj_is_small_int(buf)) {
        mp_int_t b = MP_OBJ_SMALL_INT_VALUE(buf);
        if (b < 0 || b >= ZCPOOL_NTOTAL || zcpool_refcnt(b) <= 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: not a live block"));
        }
        mp_int_t size = zcpool_size(b);
        if (off > size || len > size - off) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: outside the block"));
        }
        pl->blk = b;
        pl->ptr = zcpool_ptr(b) + off;
        return;
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_READ);
    if ((size_t)off > bi.len || (size_t)len > bi.len - off) {
        mp_raise_ValueError(MP_ERROR_TEXT("gather: outside the buffer"));
    }
    pl->ptr = (uint8_t *)bi.buf + off;
    int b = zcpool_index(pl->ptr);
    if (b >= 0 && len > 0) {
        // A view of a pool block is held like the block itself.
        if (zcpool_refcnt(b) <= 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: view of a free block"));
        }
        if (zcpool_index(pl->ptr + len - 1) != b) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: crosses blocks"));
        }
        pl->blk = b;
    } else if (!stable_object(buf) || zcdma_to_bus(pl->ptr, len ? (size_t)len : 1) == 0) {
        pl->copy = true;
    }
}

int zcdma_mp_gather(mp_obj_t gather_in, mp_int_t n, size_t max_seg, size_t min_len, size_t max_len,
    zcdma_seg_t *segs, mp_obj_t *objs, uint32_t *copied) {
    size_t glen;
    mp_obj_t *g;
    if (!mp_obj_is_type(gather_in, &mp_type_list) && !mp_obj_is_type(gather_in, &mp_type_tuple)) {
        mp_raise_TypeError(MP_ERROR_TEXT("gather must be a list or tuple"));
    }
    mp_obj_get_array(gather_in, &glen, &g);
    if (max_seg > ZCDMA_MAX_SEG) {
        max_seg = ZCDMA_MAX_SEG;
    }
    if (n < 1 || (size_t)n > max_seg) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad gather count"));
    }
    if ((size_t)(3 * n) > glen) {
        mp_raise_ValueError(MP_ERROR_TEXT("gather shorter than 3*n"));
    }
    // Pass 1: validate everything (may raise; nothing taken yet).
    seg_plan_t pl[ZCDMA_MAX_SEG];
    mp_int_t seglen[ZCDMA_MAX_SEG];
    size_t total = 0;
    for (mp_int_t k = 0; k < n; k++) {
        mp_int_t off = mp_obj_get_int(g[3 * k + 1]);
        seglen[k] = mp_obj_get_int(g[3 * k + 2]);
        plan_entry(g[3 * k], off, seglen[k], &pl[k]);
        total += (size_t)seglen[k];
    }
    if (total < min_len || total > max_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad frame length"));
    }
    // Every reference pass 2 takes must fit the 8-bit count.
    for (mp_int_t k = 0; k < n; k++) {
        if (pl[k].blk < 0) {
            continue;
        }
        int uses = 0;
        for (mp_int_t j = 0; j < n; j++) {
            uses += pl[j].blk == pl[k].blk;
        }
        if (zcpool_refcnt(pl[k].blk) + uses > 255) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: block refcount saturated"));
        }
    }
    // Pass 2: the copies' blocks first (the only step that can run short).
    int fresh[ZCDMA_MAX_SEG];
    int nfresh = 0;
    for (mp_int_t k = 0; k < n; k++) {
        if (pl[k].copy && seglen[k] > 0) {
            int b = zcpool_alloc(ZCPOOL_H_TX);
            if (b < 0) {
                while (nfresh-- > 0) {
                    zcpool_free(fresh[nfresh]);
                }
                return MP_ENOBUFS;
            }
            fresh[nfresh++] = b;
        }
    }
    int ncopies = nfresh;
    // Pass 3: take the references and fill in the segments.
    nfresh = 0;
    for (mp_int_t k = 0; k < n; k++) {
        zcdma_seg_t *s = &segs[k];
        s->len = (uint16_t)seglen[k];
        s->copied = 0;
        objs[k] = MP_OBJ_NULL;
        if (pl[k].copy && seglen[k] > 0) {
            int b = fresh[nfresh++];
            memcpy(zcpool_ptr(b), pl[k].ptr, (size_t)seglen[k]);
            *copied += (uint32_t)seglen[k];
            s->ptr = zcpool_ptr(b);
            s->blk = (int16_t)b;
            s->copied = 1;
        } else if (pl[k].blk >= 0) {
            if (zcpool_ref(pl[k].blk) < 0) {
                // Cannot happen after pass 1; give back what was taken.
                zcdma_mp_release(segs, (size_t)k, objs);
                while (nfresh < ncopies) {
                    zcpool_free(fresh[nfresh++]);
                }
                mp_raise_ValueError(MP_ERROR_TEXT("gather: block refcount saturated"));
            }
            s->ptr = pl[k].ptr;
            s->blk = (int16_t)pl[k].blk;
        } else {
            s->ptr = pl[k].ptr;
            s->blk = -1;
            objs[k] = g[3 * k];
        }
        s->bus = zcdma_to_bus(s->ptr, s->len ? s->len : 1);
    }
    return 0;
}

static uint32_t heap_bytes(mp_obj_t o) {
    if (!mp_obj_is_type(o, &mp_type_memoryview)) {
        return 0;
    }
    return gc_nbytes(((mp_obj_array_t *)MP_OBJ_TO_PTR(o))->items);
}

void zcdma_mp_lent_record(mp_obj_t o, zcdma_lent_t *l) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    l->ptr = bi.buf;
    l->len = (uint32_t)bi.len;
    l->heap = heap_bytes(o);
}

bool zcdma_mp_lent_moved(mp_obj_t o, const zcdma_lent_t *l) {
    if (l->ptr == NULL) {
        return false;
    }
    mp_buffer_info_t bi;
    return !mp_get_buffer(o, &bi, MP_BUFFER_READ) || bi.buf != l->ptr || bi.len != l->len
           || heap_bytes(o) != l->heap;
}

void zcdma_mp_release(zcdma_seg_t *segs, size_t n, mp_obj_t *objs) {
    for (size_t k = 0; k < n; k++) {
        if (segs[k].blk >= 0) {
            zcpool_free(segs[k].blk);
            segs[k].blk = -1;
        }
        objs[k] = MP_OBJ_NULL;
        segs[k].ptr = NULL;
        segs[k].len = 0;
    }
}
