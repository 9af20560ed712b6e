// zctap: the TAP "MAC" driver (unix port), module `zctap`, type `zctap.TAP`.
//
// It follows the driver contract in docs/internals.md, like a real MAC:
// an RX ring of posted pool blocks that the kernel "DMAs" into (read()
// straight into the block), and a TX ring of frame descriptors that only the
// poll step (tx_reap) drains with writev(), so hold-until-reap and ENOBUFS
// behave as they do on hardware. Nothing on the per-packet path allocates.
//
// TX gather entries name pool blocks of either class (frame or header) by
// index, or buffer objects. Blocks are referenced; a mutable buffer object's
// storage (address, size) is recorded at tx() and re-checked just before
// writev: storage that moved is never read (the frame completes, unsent,
// counted tx_ref_moved). A finaliser closes a TAP the GC collects unclosed.
//
// Layout:
//   - wire layer (tap_wire_*): the only code that touches the fd;
//   - RX ring (rx_*), TX ring (tx_*);
//   - Python glue at the bottom.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "py/runtime.h"
#include "py/stream.h"
#include "py/mperrno.h"
#include "py/objlist.h"
#include "py/objtuple.h"
#include "py/objstr.h"
#include "py/objarray.h"
#include "py/gc.h"
#include "zcpool.h"

#define ZCTAP_MAX_SEG      (16)     // gather entries per frame
#define ZCTAP_MAX_RX_RING  (256)
#define ZCTAP_MAX_TX_RING  (1024)
#define ZCTAP_RX_MAX       (ZCPOOL_BLOCK_SIZE - ZCPOOL_FRAME_OFFSET)  // 1598
#define ZCTAP_TX_MIN       (14)     // an Ethernet header; tun rejects less
#define ZCTAP_TX_MAX       (ZCTAP_RX_MAX)
#define ZCTAP_EINTR_RETRY  (4)

typedef struct {
    struct iovec iov[ZCTAP_MAX_SEG];
    // A mutable buffer object's storage as tx() saw it (NULL: nothing to
    // check: a pool block, a view of one, or bytes). Re-checked just before
    // writev: storage that moved or changed size is never read.
    const void *obuf[ZCTAP_MAX_SEG];
    uint32_t olen[ZCTAP_MAX_SEG];
    uint32_t oheap[ZCTAP_MAX_SEG];  // memoryview: heap size of its base storage
    int16_t blk[ZCTAP_MAX_SEG];    // pool block the driver holds a ref on, or -1
    int32_t cookie;
    uint16_t nseg;
    uint16_t len;                  // total frame length
} zctap_txf_t;

typedef struct {
    uint64_t rx_frames, rx_bytes, rx_no_buffer, rx_oversize, rx_errors;
    uint64_t tx_frames, tx_bytes, tx_ring_full, tx_errors, tx_ref_moved;
} zctap_stats_t;

typedef struct {
    mp_obj_base_t base;
    int fd;                        // -1 once closed
    char name[IFNAMSIZ];
    // RX ring: slot -> posted block (holder H_RXPOST) or -1.
    int16_t *rx_slot;
    uint16_t rx_n, rx_head, rx_missing;
    // TX ring: frames [tx_head, tx_head+tx_done) are finished and wait for
    // tx_reap; [tx_head+tx_done, tx_head+tx_count) are queued, not yet written.
    zctap_txf_t *tx;
    mp_obj_t *tx_objs;             // tx_n * ZCTAP_MAX_SEG buffer objects (GC roots
                                   // through this object: invariant 6)
    uint16_t tx_n, tx_head, tx_count, tx_done;
    zctap_stats_t st;
} zctap_obj_t;

// Frames dropped for lack of a block (or too big) are drained into this.
static uint8_t zctap_scratch[2048];

// ---- wire layer ---------------------------------------------------------------

// One frame from the fd into `buf` (at most `max` bytes). Returns the frame's
// length (which may exceed `max`: the frame was truncated), 0 when nothing is
// waiting, or -errno.
static ssize_t tap_wire_read(int fd, uint8_t *buf, size_t max) {
    // A second iovec catches frames longer than `max` (tun truncates to the
    // buffer; either way, n > max means "oversize").
    struct iovec iov[2] = {
        { .iov_base = buf, .iov_len = max },
        { .iov_base = zctap_scratch, .iov_len = 16 },
    };
    for (int tries = 0; tries < ZCTAP_EINTR_RETRY; tries++) {
        ssize_t n = readv(fd, iov, 2);
        if (n > 0) {
            return n;
        }
        if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

// Write one frame. Returns bytes written, or -errno.
static ssize_t tap_wire_write(int fd, const struct iovec *iov, int n) {
    for (int tries = 0; tries < ZCTAP_EINTR_RETRY; tries++) {
        ssize_t r = writev(fd, iov, n);
        if (r >= 0) {
            return r;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
    return -EINTR;
}

// ---- helpers --------------------------------------------------------------------

static zctap_obj_t *zctap_live(mp_obj_t self_in) {
    zctap_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->fd < 0) {
        mp_raise_OSError(MP_EBADF);
    }
    return self;
}

static int32_t *zctap_out_array(mp_obj_t out, size_t *n_items) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(out, &bi, MP_BUFFER_WRITE);
    if (bi.typecode != 'i') {
        mp_raise_TypeError(MP_ERROR_TEXT("out must be array('i')"));
    }
    *n_items = bi.len / sizeof(int32_t);
    return bi.buf;
}

// ---- RX ring --------------------------------------------------------------------

// Post blocks into empty slots (there are some only when the pool ran short
// at construction or was empty at an earlier refill). Bounded by rx_n.
static void rx_repost(zctap_obj_t *self) {
    for (unsigned i = 0; i < self->rx_n && self->rx_missing; i++) {
        if (self->rx_slot[i] < 0) {
            int b = zcpool_alloc(ZCPOOL_H_RXPOST);
            if (b < 0) {
                return;
            }
            self->rx_slot[i] = b;
            self->rx_missing--;
        }
    }
}

// Slot to receive into next: the head, or the next posted slot after it; -1
// when the ring has no posted block at all.
static int rx_next_slot(zctap_obj_t *self) {
    if (self->rx_missing == 0) {
        return self->rx_head;
    }
    for (unsigned k = 0; k < self->rx_n; k++) {
        unsigned s = (self->rx_head + k) % self->rx_n;
        if (self->rx_slot[s] >= 0) {
            self->rx_head = s;
            return s;
        }
    }
    return -1;
}

static mp_obj_t zctap_rx_poll(mp_obj_t self_in, mp_obj_t budget_in, mp_obj_t out_in) {
    zctap_obj_t *self = zctap_live(self_in);
    mp_int_t budget = mp_obj_get_int(budget_in);
    size_t nout;
    int32_t *out = zctap_out_array(out_in, &nout);
    if (budget < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("budget < 0"));
    }
    if ((size_t)budget > nout / 3) {
        mp_raise_ValueError(MP_ERROR_TEXT("out shorter than 3*budget"));
    }
    if (self->rx_missing) {
        rx_repost(self);
    }
    mp_int_t got = 0;
    // Each iteration consumes one frame from the fd (delivered or dropped);
    // the bound keeps a storm of drops from holding the loop forever.
    for (mp_int_t iter = 0; got < budget && iter < budget + self->rx_n; iter++) {
        int s = rx_next_slot(self);
        if (s < 0) {
            // No posted block at all: drain into scratch, count, and move on.
            ssize_t n = tap_wire_read(self->fd, zctap_scratch, sizeof(zctap_scratch));
            if (n == 0) {
                break;
            }
            if (n < 0) {
                self->st.rx_errors++;
                break;
            }
            self->st.rx_no_buffer++;
            rx_repost(self);
            continue;
        }
        int blk = self->rx_slot[s];
        ssize_t n = tap_wire_read(self->fd, zcpool_ptr(blk) + ZCPOOL_FRAME_OFFSET, ZCTAP_RX_MAX);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            self->st.rx_errors++;
            break;
        }
        self->rx_head = (s + 1) % self->rx_n;
        if (n > ZCTAP_RX_MAX) {
            self->st.rx_oversize++;       // block stays posted in its slot
            continue;
        }
        // Refill the slot first; without a block the frame is dropped and the
        // descriptor recycled (invariant 3: never stall).
        int fresh = zcpool_alloc(ZCPOOL_H_RXPOST);
        if (fresh < 0) {
            self->st.rx_no_buffer++;
            continue;
        }
        if (!zcpool_move(blk, ZCPOOL_H_RX)) {
            // The input path is at its quota: same as no buffer.
            zcpool_free(fresh);
            self->st.rx_no_buffer++;
            continue;
        }
        self->rx_slot[s] = fresh;
        out[3 * got] = blk;
        out[3 * got + 1] = (int32_t)n;
        out[3 * got + 2] = 0;
        got++;
        self->st.rx_frames++;
        self->st.rx_bytes += n;
    }
    return MP_OBJ_NEW_SMALL_INT(got);
}
static MP_DEFINE_CONST_FUN_OBJ_3(zctap_rx_poll_obj, zctap_rx_poll);

// ---- TX ring --------------------------------------------------------------------

// Drop what the driver holds for frame slot `s`.
static void tx_release(zctap_obj_t *self, unsigned s) {
    zctap_txf_t *f = &self->tx[s];
    mp_obj_t *objs = &self->tx_objs[s * ZCTAP_MAX_SEG];
    for (unsigned k = 0; k < f->nseg; k++) {
        if (f->blk[k] >= 0) {
            zcpool_free(f->blk[k]);
            f->blk[k] = -1;
        }
        objs[k] = MP_OBJ_NULL;
        f->iov[k].iov_base = NULL;
        f->iov[k].iov_len = 0;
        f->obuf[k] = NULL;
        f->olen[k] = 0;
        f->oheap[k] = 0;
    }
    f->nseg = 0;
}

// A memoryview keeps a raw pointer to its base object's storage, not the
// object: if the base (a bytearray) is resized, that storage is freed while
// the view's own address and size stay the same. What can be seen is the
// heap block it points into: its size (0 once freed) is recorded too.
static uint32_t mview_heap_bytes(mp_obj_t o) {
    if (!mp_obj_is_type(o, &mp_type_memoryview)) {
        return 0;
    }
    return gc_nbytes(((mp_obj_array_t *)MP_OBJ_TO_PTR(o))->items);
}

// One gather entry, resolved by pass 1 of tx().
typedef struct {
    uint8_t *ptr;
    const void *obuf;              // storage to re-check before reading, or NULL
    size_t olen;
    uint32_t oheap;
    int blk;                       // pool block to reference, or -1
} tx_seg_t;

// Resolve one gather entry; raises on bad input and takes nothing.
static void tx_resolve(mp_obj_t buf, mp_int_t off, mp_int_t len, tx_seg_t *sg) {
    if (off < 0 || len < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad gather off/len"));
    }
    sg->obuf = NULL;
    sg->olen = 0;
    sg->oheap = 0;
    if (mp_obj_is_small_int(buf)) {
        // A block index, frame or header class.
        mp_int_t b = MP_OBJ_SMALL_INT_VALUE(buf);
        if (b < 0 || b >= ZCPOOL_NTOTAL || zcpool_refcnt(b) <= 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: not a live block"));
        }
        mp_int_t size = zcpool_size(b);
        if (off > size || len > size - off) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: outside the block"));
        }
        sg->blk = b;
        sg->ptr = zcpool_ptr(b) + off;
        return;
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_READ);
    if ((size_t)off > bi.len || (size_t)len > bi.len - off) {
        mp_raise_ValueError(MP_ERROR_TEXT("gather: outside the buffer"));
    }
    uint8_t *p = (uint8_t *)bi.buf + off;
    sg->ptr = p;
    sg->blk = -1;
    // A view of a pool block (zcpool.block(i)) is held like the block itself,
    // so the block cannot be recycled under the TX ring either.
    int b = zcpool_index(p);
    if (b >= 0 && len > 0) {
        if (zcpool_refcnt(b) <= 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: view of a free block"));
        }
        if (zcpool_index(p + len - 1) != b) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: crosses blocks"));
        }
        sg->blk = b;
    } else if (!mp_obj_is_str_or_bytes(buf)) {
        // Mutable storage (bytearray, memoryview, array): the application
        // may resize it before reap; remember where it is now.
        sg->obuf = bi.buf;
        sg->olen = bi.len;
        sg->oheap = mview_heap_bytes(buf);
    }
}

static mp_obj_t zctap_tx(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    zctap_obj_t *self = zctap_live(args[0]);
    mp_int_t n = mp_obj_get_int(args[1]);
    mp_obj_t gather_in = args[2];
    mp_int_t cookie = mp_obj_get_int(args[3]);
    size_t glen;
    mp_obj_t *g;
    if (!mp_obj_is_type(gather_in, &mp_type_list) && !mp_obj_is_type(gather_in, &mp_type_tuple)) {
        mp_raise_TypeError(MP_ERROR_TEXT("gather must be a list or tuple"));
    }
    mp_obj_get_array(gather_in, &glen, &g);
    if (n < 1 || n > ZCTAP_MAX_SEG) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad gather count"));
    }
    if ((size_t)(3 * n) > glen) {
        mp_raise_ValueError(MP_ERROR_TEXT("gather shorter than 3*n"));
    }
    if (cookie < INT32_MIN || cookie > INT32_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("cookie out of range"));
    }
    // Pass 1: validate everything (may raise; nothing taken yet).
    tx_seg_t sg[ZCTAP_MAX_SEG];
    mp_int_t seglen[ZCTAP_MAX_SEG];
    mp_int_t total = 0;
    for (mp_int_t k = 0; k < n; k++) {
        mp_int_t off = mp_obj_get_int(g[3 * k + 1]);
        seglen[k] = mp_obj_get_int(g[3 * k + 2]);
        tx_resolve(g[3 * k], off, seglen[k], &sg[k]);
        total += seglen[k];
    }
    // Every reference pass 2 takes must fit the 8-bit count (a block may
    // appear in several entries): refuse the frame now rather than fail
    // half way through.
    for (mp_int_t k = 0; k < n; k++) {
        if (sg[k].blk < 0) {
            continue;
        }
        int uses = 0;
        for (mp_int_t j = 0; j < n; j++) {
            uses += sg[j].blk == sg[k].blk;
        }
        if (zcpool_refcnt(sg[k].blk) + uses > 255) {
            mp_raise_ValueError(MP_ERROR_TEXT("gather: block refcount saturated"));
        }
    }
    if (total < ZCTAP_TX_MIN || total > ZCTAP_TX_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad frame length"));
    }
    if (self->tx_count >= self->tx_n) {
        self->st.tx_ring_full++;
        return MP_OBJ_NEW_SMALL_INT(MP_ENOBUFS);
    }
    // Pass 2: take the references, then fill the descriptor.
    for (mp_int_t k = 0; k < n; k++) {
        if (sg[k].blk >= 0 && zcpool_ref(sg[k].blk) < 0) {
            // Cannot happen after pass 1; if it does, give back what was taken.
            while (k-- > 0) {
                if (sg[k].blk >= 0) {
                    zcpool_free(sg[k].blk);
                }
            }
            mp_raise_ValueError(MP_ERROR_TEXT("gather: block refcount saturated"));
        }
    }
    unsigned s = (self->tx_head + self->tx_count) % self->tx_n;
    zctap_txf_t *f = &self->tx[s];
    mp_obj_t *objs = &self->tx_objs[s * ZCTAP_MAX_SEG];
    for (mp_int_t k = 0; k < n; k++) {
        f->iov[k].iov_base = sg[k].ptr;
        f->iov[k].iov_len = seglen[k];
        f->blk[k] = sg[k].blk;
        f->obuf[k] = sg[k].obuf;
        f->olen[k] = sg[k].olen;
        f->oheap[k] = sg[k].oheap;
        objs[k] = mp_obj_is_small_int(g[3 * k]) ? MP_OBJ_NULL : g[3 * k];
    }
    f->nseg = n;
    f->len = total;
    f->cookie = cookie;
    self->tx_count++;
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zctap_tx_obj, 4, 4, zctap_tx);

// Frames tx() would accept now.
static mp_obj_t zctap_tx_room(mp_obj_t self_in) {
    zctap_obj_t *self = zctap_live(self_in);
    return MP_OBJ_NEW_SMALL_INT(self->tx_n - self->tx_count);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zctap_tx_room_obj, zctap_tx_room);

// True when every mutable buffer object of frame slot `s` still has the
// storage (address and size) tx() recorded. Called just before writev.
static bool tx_storage_stable(zctap_obj_t *self, unsigned s) {
    const zctap_txf_t *f = &self->tx[s];
    const mp_obj_t *objs = &self->tx_objs[s * ZCTAP_MAX_SEG];
    for (unsigned k = 0; k < f->nseg; k++) {
        if (f->obuf[k] == NULL) {
            continue;
        }
        mp_buffer_info_t bi;
        if (!mp_get_buffer(objs[k], &bi, MP_BUFFER_READ)
            || bi.buf != f->obuf[k] || bi.len != f->olen[k]
            || mview_heap_bytes(objs[k]) != f->oheap[k]) {
            return false;
        }
    }
    return true;
}

// Write queued frames in order until the fd pushes back.
static void tx_kick(zctap_obj_t *self) {
    while (self->tx_done < self->tx_count) {
        unsigned s = (self->tx_head + self->tx_done) % self->tx_n;
        zctap_txf_t *f = &self->tx[s];
        if (!tx_storage_stable(self, s)) {
            // The application moved or resized a buffer it lent us: its old
            // storage may be freed memory. Not sent; completed anyway.
            self->st.tx_ref_moved++;
            self->tx_done++;
            continue;
        }
        ssize_t r = tap_wire_write(self->fd, f->iov, f->nseg);
        if (r == -EAGAIN || r == -EWOULDBLOCK) {
            return;
        }
        if (r < 0) {
            self->st.tx_errors++;     // completed anyway: never wedge the ring
        } else {
            self->st.tx_frames++;
            self->st.tx_bytes += r;
        }
        self->tx_done++;
    }
}

static mp_obj_t zctap_tx_reap(mp_obj_t self_in, mp_obj_t out_in) {
    zctap_obj_t *self = zctap_live(self_in);
    size_t nout;
    int32_t *out = zctap_out_array(out_in, &nout);
    tx_kick(self);
    mp_int_t m = 0;
    while (self->tx_done > 0 && (size_t)m < nout) {
        unsigned s = self->tx_head;
        out[m++] = self->tx[s].cookie;
        tx_release(self, s);
        self->tx_head = (s + 1) % self->tx_n;
        self->tx_done--;
        self->tx_count--;
    }
    return MP_OBJ_NEW_SMALL_INT(m);
}
static MP_DEFINE_CONST_FUN_OBJ_2(zctap_tx_reap_obj, zctap_tx_reap);

// ---- construction / teardown ----------------------------------------------------

static int zctap_set_up(const char *name) {
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) {
        return errno;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int err = 0;
    if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) {
        err = errno;
    } else {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) {
            err = errno;
        }
    }
    close(sk);
    return err;
}

static mp_obj_t zctap_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args) {
    enum { ARG_name, ARG_rx_ring, ARG_tx_ring };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_name, MP_ARG_OBJ, {.u_rom_obj = MP_ROM_QSTR(MP_QSTR_zc0)} },
        { MP_QSTR_rx_ring, MP_ARG_INT, {.u_int = 16} },
        { MP_QSTR_tx_ring, MP_ARG_INT, {.u_int = 32} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, a);
    size_t nlen;
    const char *name = mp_obj_str_get_data(a[ARG_name].u_obj, &nlen);
    if (nlen == 0 || nlen >= IFNAMSIZ || memchr(name, 0, nlen)) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad interface name"));
    }
    mp_int_t rxn = a[ARG_rx_ring].u_int, txn = a[ARG_tx_ring].u_int;
    if (rxn < 1 || rxn > ZCTAP_MAX_RX_RING || txn < 1 || txn > ZCTAP_MAX_TX_RING) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad ring size"));
    }
    zcpool_init();

    // All Python-heap allocations first, so a MemoryError cannot leak the fd.
    // With a finaliser: a TAP the program drops without close() still gives
    // back its blocks and its fd (and so its interface) when collected.
    zctap_obj_t *self = mp_obj_malloc_with_finaliser(zctap_obj_t, type);
    self->fd = -1;
    self->rx_slot = m_new(int16_t, rxn);
    self->tx = m_new0(zctap_txf_t, txn);
    self->tx_objs = m_new0(mp_obj_t, txn * ZCTAP_MAX_SEG);
    self->rx_n = rxn;
    self->tx_n = txn;
    memset(&self->st, 0, sizeof(self->st));

    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, nlen);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        mp_raise_OSError(e);
    }
    // Not persistent: never TUNSETPERSIST, so the device goes with the fd.
    memcpy(self->name, ifr.ifr_name, IFNAMSIZ);
    self->name[IFNAMSIZ - 1] = 0;
    int e = zctap_set_up(self->name);
    if (e) {
        close(fd);
        mp_raise_OSError(e);
    }
    self->fd = fd;

    self->rx_head = 0;
    self->rx_missing = rxn;
    for (mp_int_t i = 0; i < rxn; i++) {
        self->rx_slot[i] = -1;
    }
    rx_repost(self);
    for (mp_int_t s = 0; s < txn; s++) {
        for (int k = 0; k < ZCTAP_MAX_SEG; k++) {
            self->tx[s].blk[k] = -1;
        }
    }
    self->tx_head = self->tx_count = self->tx_done = 0;
    return MP_OBJ_FROM_PTR(self);
}

static void zctap_do_close(zctap_obj_t *self) {
    if (self->fd < 0) {
        return;
    }
    for (unsigned i = 0; i < self->rx_n; i++) {
        if (self->rx_slot[i] >= 0) {
            zcpool_free(self->rx_slot[i]);
            self->rx_slot[i] = -1;
        }
    }
    self->rx_missing = self->rx_n;
    for (unsigned k = 0; k < self->tx_count; k++) {
        tx_release(self, (self->tx_head + k) % self->tx_n);
    }
    self->tx_head = self->tx_count = self->tx_done = 0;
    close(self->fd);
    self->fd = -1;
}

static mp_obj_t zctap_close(mp_obj_t self_in) {
    zctap_do_close(MP_OBJ_TO_PTR(self_in));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zctap_close_obj, zctap_close);

// ---- status -----------------------------------------------------------------------

static mp_obj_t zctap_link(mp_obj_t self_in) {
    zctap_obj_t *self = zctap_live(self_in);
    bool up = false;
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk >= 0) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, self->name, IFNAMSIZ);
        if (ioctl(sk, SIOCGIFFLAGS, &ifr) == 0) {
            up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
        }
        close(sk);
    }
    mp_obj_t t[3] = { mp_obj_new_bool(up), MP_OBJ_NEW_SMALL_INT(10000), mp_const_true };
    return mp_obj_new_tuple(3, t);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zctap_link_obj, zctap_link);

static void zctap_put(mp_obj_t d, qstr k, uint64_t v) {
    mp_obj_dict_store(d, MP_OBJ_NEW_QSTR(k), mp_obj_new_int_from_ull(v));
}

static mp_obj_t zctap_stats(mp_obj_t self_in) {
    zctap_obj_t *self = zctap_live(self_in);
    mp_obj_t d = mp_obj_new_dict(10);
    zctap_put(d, MP_QSTR_rx_frames, self->st.rx_frames);
    zctap_put(d, MP_QSTR_rx_bytes, self->st.rx_bytes);
    zctap_put(d, MP_QSTR_rx_no_buffer, self->st.rx_no_buffer);
    zctap_put(d, MP_QSTR_rx_oversize, self->st.rx_oversize);
    zctap_put(d, MP_QSTR_rx_errors, self->st.rx_errors);
    zctap_put(d, MP_QSTR_tx_frames, self->st.tx_frames);
    zctap_put(d, MP_QSTR_tx_bytes, self->st.tx_bytes);
    zctap_put(d, MP_QSTR_tx_ring_full, self->st.tx_ring_full);
    zctap_put(d, MP_QSTR_tx_errors, self->st.tx_errors);
    zctap_put(d, MP_QSTR_tx_ref_moved, self->st.tx_ref_moved);
    return d;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zctap_stats_obj, zctap_stats);

static mp_obj_t zctap_fileno(mp_obj_t self_in) {
    return MP_OBJ_NEW_SMALL_INT(zctap_live(self_in)->fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zctap_fileno_obj, zctap_fileno);

// Stream protocol: only ioctl, so select.poll can register the object and
// use its real fd (MICROPY_PY_SELECT_POSIX_OPTIMISATIONS).
static mp_uint_t zctap_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    zctap_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        zctap_do_close(self);
        return 0;
    }
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    switch (request) {
        case MP_STREAM_GET_FILENO:
            return self->fd;
        case MP_STREAM_POLL: {
            struct pollfd p = { .fd = self->fd, .events = 0 };
            if (arg & MP_STREAM_POLL_RD) {
                p.events |= POLLIN;
            }
            if (arg & MP_STREAM_POLL_WR) {
                p.events |= POLLOUT;
            }
            if (poll(&p, 1, 0) < 0) {
                *errcode = errno;
                return MP_STREAM_ERROR;
            }
            mp_uint_t r = 0;
            if (p.revents & POLLIN) {
                r |= MP_STREAM_POLL_RD;
            }
            if (p.revents & POLLOUT) {
                r |= MP_STREAM_POLL_WR;
            }
            if (p.revents & POLLERR) {
                r |= MP_STREAM_POLL_ERR;
            }
            if (p.revents & POLLHUP) {
                r |= MP_STREAM_POLL_HUP;
            }
            return r;
        }
        default:
            *errcode = MP_EINVAL;
            return MP_STREAM_ERROR;
    }
}

static const mp_stream_p_t zctap_stream_p = {
    .ioctl = zctap_ioctl,
};

static void zctap_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if (attr == MP_QSTR_name && dest[0] == MP_OBJ_NULL) {
        zctap_obj_t *self = MP_OBJ_TO_PTR(self_in);
        dest[0] = mp_obj_new_str(self->name, strlen(self->name));
        return;
    }
    dest[1] = MP_OBJ_SENTINEL;     // go on to locals_dict
}

static void zctap_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    zctap_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<TAP %s fd=%d rx_ring=%u tx_ring=%u>", self->name, self->fd, self->rx_n, self->tx_n);
}

static const mp_rom_map_elem_t zctap_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(ZCTAP_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_rx_poll), MP_ROM_PTR(&zctap_rx_poll_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx), MP_ROM_PTR(&zctap_tx_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_reap), MP_ROM_PTR(&zctap_tx_reap_obj) },
    { MP_ROM_QSTR(MP_QSTR_tx_room), MP_ROM_PTR(&zctap_tx_room_obj) },
    { MP_ROM_QSTR(MP_QSTR_link), MP_ROM_PTR(&zctap_link_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&zctap_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_fileno), MP_ROM_PTR(&zctap_fileno_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&zctap_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&zctap_close_obj) },
};
static MP_DEFINE_CONST_DICT(zctap_locals, zctap_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    zctap_type,
    MP_QSTR_TAP,
    MP_TYPE_FLAG_NONE,
    make_new, zctap_make_new,
    print, zctap_print,
    attr, zctap_attr,
    protocol, &zctap_stream_p,
    locals_dict, &zctap_locals
    );

static const mp_rom_map_elem_t zctap_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_zctap) },
    { MP_ROM_QSTR(MP_QSTR_TAP), MP_ROM_PTR(&zctap_type) },
    { MP_ROM_QSTR(MP_QSTR_MAX_SEG), MP_ROM_INT(ZCTAP_MAX_SEG) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_OK), MP_ROM_INT(1) },
    { MP_ROM_QSTR(MP_QSTR_RXF_CSUM_BAD), MP_ROM_INT(2) },
};
static MP_DEFINE_CONST_DICT(zctap_globals, zctap_globals_table);

const mp_obj_module_t zctap_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&zctap_globals,
};
MP_REGISTER_MODULE(MP_QSTR_zctap, zctap_module);
