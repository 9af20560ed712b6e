// zcdma_mp: the MicroPython side every DMA MAC driver shares (pool handoff,
// reference holding, the stable-storage rule, output arrays, stats).
//
// A descriptor only ever points at storage that cannot move:
//   - a pool block of either class, by index or as a view of one: the
//     driver takes a reference, dropped when the frame is reaped;
//   - `bytes` (or a read-only memoryview, whose base is immutable) in the GC
//     heap or in read-only data: the driver keeps the object in its table
//     (reachable by the GC) until reap;
//   - anything else (bytearray, array, writable memoryview of non-pool
//     storage) could be resized under the DMA: its bytes are copied into a
//     fresh frame block (counted in the driver's stats as copied bytes).
#ifndef ZCDMA_MP_H
#define ZCDMA_MP_H

#include "py/obj.h"
#include "zcdma.h"

#define ZCDMA_MAX_SEG (16)         // gather entries per frame, at most

typedef struct {
    uint8_t *ptr;                  // first byte (host address)
    zcdma_addr_t bus;              // its bus address (never 0 once resolved)
    uint16_t len;
    int16_t blk;                   // block the driver holds a reference on, or -1
    int16_t copied;                // 1: blk is a copy the driver made
} zcdma_seg_t;

// Map, once, every region a descriptor may point at: both pool arenas
// (read-write), the GC heap and the program's read-only data (read-only).
// A board maps nothing (the identity).
void zcdma_mp_map_regions(void);

// Resolve the first n gather entries (3 per entry: buf, off, len) into segs
// and objs (objs[k]: the object to keep reachable until reap, or
// MP_OBJ_NULL). Raises ValueError/TypeError on bad input (not a live block,
// outside a buffer, a frame length outside [min_len, max_len], n outside
// [1, max_seg]) having taken nothing. Returns 0 with every reference taken,
// or MP_ENOBUFS when a copy needed a block and none was free (nothing taken).
// *copied grows by the bytes copied. A zero-length entry resolves to a
// segment of len 0 that the driver skips (no descriptor points at it).
int zcdma_mp_gather(mp_obj_t gather, mp_int_t n, size_t max_seg, size_t min_len, size_t max_len,
    zcdma_seg_t *segs, mp_obj_t *objs, uint32_t *copied);
// A lent mutable buffer (a segment zcdma_mp_gather copied): its storage as
// tx() saw it. The frame goes out of the copy, but only if that storage is
// still where it was when the frame is handed to the DMA (else it completes
// unsent, tx_ref_moved), as the driver contract asks of every MAC. A
// memoryview points at its base's storage: the heap block's size (0 once
// freed) shows a base resized under it. ptr NULL: nothing recorded.
typedef struct {
    const void *ptr;
    uint32_t len;
    uint32_t heap;
} zcdma_lent_t;
void zcdma_mp_lent_record(mp_obj_t o, zcdma_lent_t *l);
// True when o's storage is no longer what l recorded (false when l is empty).
bool zcdma_mp_lent_moved(mp_obj_t o, const zcdma_lent_t *l);

// Drop the references a resolved frame holds.
void zcdma_mp_release(zcdma_seg_t *segs, size_t n, mp_obj_t *objs);

// The int32 array behind `out` (array('i')); *n_items its length.
int32_t *zcdma_mp_out(mp_obj_t out, size_t *n_items);

// A dict of names[k] -> values[k].
mp_obj_t zcdma_mp_stats(const char *const *names, const uint32_t *values, size_t n);

#endif
