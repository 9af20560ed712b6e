// zcpool: the one block pool shared by the MAC drivers and the stack.
//
// Two block classes in one index space, each in its own static arena, 32-byte
// aligned (Cortex-M7 cache line), each block with a reference count and a
// holder (the consumer it is charged to):
//   - frame blocks, indexes 0 .. NBLOCKS-1, BLOCK_SIZE bytes: a whole frame.
//     Frames start ZCPOOL_FRAME_OFFSET bytes into a block so the IPv4 header
//     lands 4-byte aligned;
//   - header blocks, indexes NBLOCKS .. NBLOCKS+HNBLOCKS-1, HDR_SIZE bytes:
//     a header prepended to a payload that stays by reference.
// Blocks never move; everyone names them by index.
//
// Accounting: every holder has a quota per class (blocks it may hold at
// once). Frame blocks only: holders other than the RX ones may not take the
// last `reserve` free blocks, so a fragment flood or a slow reader can never
// starve reception. Header blocks have no reserve (RX never posts them).
#ifndef ZCPOOL_H
#define ZCPOOL_H

#include <stdint.h>
#include <stddef.h>

#ifndef ZCPOOL_NBLOCKS
#define ZCPOOL_NBLOCKS      (128)
#endif
#define ZCPOOL_BLOCK_SIZE   (1600)   // 1518-byte frame + 2 align + headroom; 50 * 32
#define ZCPOOL_ALIGN        (32)
#define ZCPOOL_FRAME_OFFSET (2)

#ifndef ZCPOOL_HNBLOCKS
#define ZCPOOL_HNBLOCKS     (256)
#endif
#define ZCPOOL_HDR_SIZE     (128)    // 4 * 32: Ethernet + IPv4 + TCP with options
#define ZCPOOL_NTOTAL       (ZCPOOL_NBLOCKS + ZCPOOL_HNBLOCKS)

// Holders (consumers). Keep in step with stack/pool_py.py.
enum {
    ZCPOOL_H_RXPOST = 0,  // posted in a driver's RX ring (counts as "at baseline")
    ZCPOOL_H_RX,          // handed up by a driver, owned by the stack's input path
    ZCPOOL_H_REASM,       // IPv4 reassembly
    ZCPOOL_H_ARPQ,        // waiting for ARP resolution
    ZCPOOL_H_UDP,         // UDP socket receive queues
    ZCPOOL_H_TCP,         // TCP queues
    ZCPOOL_H_TX,          // built for transmission by the stack
    ZCPOOL_H_APP,         // handed to the application
    ZCPOOL_NHOLDERS
};

#define ZCPOOL_MUST_CHECK __attribute__((warn_unused_result))

// Allocate a frame block charged to `holder` with reference count 1; -1 when
// the pool is empty, the holder is at its quota, or only the RX reserve is left.
int zcpool_alloc(int holder);
// Allocate a header block (index >= ZCPOOL_NBLOCKS) charged to `holder`;
// -1 when the header class is empty or the holder is at its header quota.
int zcpool_alloc_hdr(int holder);
// One more reference, on a block of either class. Returns the new count, or
// -1 (counted as bad_ref) for a bad index, a free block or a count already
// at 255: the reference was NOT taken, and the caller must not free it.
ZCPOOL_MUST_CHECK int zcpool_ref(int idx);
// Drop one reference; at zero the block returns to its class's free list.
// Returns the new count (or -1 for a bad index/double free, which is
// counted, not fatal).
int zcpool_free(int idx);
// Recharge a held block to another holder, checked against the quota of the
// block's class; 0 if refused.
int zcpool_move(int idx, int holder);
// Address of block idx (either class), or NULL for a bad index.
uint8_t *zcpool_ptr(int idx);
// Block (either class) that contains address p, or -1.
int zcpool_index(const void *p);
// Bytes in block idx: ZCPOOL_BLOCK_SIZE or ZCPOOL_HDR_SIZE; 0 for a bad index.
int zcpool_size(int idx);
int zcpool_is_hdr(int idx);
int zcpool_nfree(void);            // free frame blocks
int zcpool_hnfree(void);           // free header blocks
int zcpool_refcnt(int idx);        // -1 for a bad index
void zcpool_init(void);            // idempotent

#endif
