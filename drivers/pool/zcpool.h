// zcpool: the one block pool shared by the MAC drivers and the stack.
//
// Fixed-size blocks in one static arena, 32-byte aligned (Cortex-M7 cache
// line), each with a reference count and a holder (the consumer it is charged
// to). Frames start ZCPOOL_FRAME_OFFSET bytes into a block so the IPv4 header
// lands 4-byte aligned. Blocks never move; everyone names them by index.
//
// Accounting: every holder has a quota (blocks it may hold at once); holders
// other than the RX ones may not take the last `reserve` free blocks, so a
// fragment flood or a slow reader can never starve reception.
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

// Allocate a block charged to `holder` with reference count 1; -1 when the
// pool is empty, the holder is at its quota, or only the RX reserve is left.
int zcpool_alloc(int holder);
// One more reference.
void zcpool_ref(int idx);
// Drop one reference; at zero the block returns to the free list. Returns the
// new count (or -1 for a bad index/double free, which is counted, not fatal).
int zcpool_free(int idx);
// Recharge a held block to another holder; 0 if the target is at its quota.
int zcpool_move(int idx, int holder);
uint8_t *zcpool_ptr(int idx);
int zcpool_index(const void *p);   // block that contains p, or -1
int zcpool_nfree(void);
int zcpool_refcnt(int idx);
void zcpool_init(void);            // idempotent

#endif
