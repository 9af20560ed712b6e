// zcmodel: wire, fault injection and interrupt line for the MAC models. See zcmodel.h.
#include "zcdma.h"

#if ZCDMA_HOST
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include "zcmodel.h"

static const char *const fault_names[ZCM_NFAULTS] = {
    "rx_drop", "rx_corrupt", "rx_crc", "rx_overrun", "tx_drop", "tx_corrupt", "bus_error", "link_flap",
};

void zcm_faults_init(zcm_faults_t *f, uint64_t seed) {
    memset(f, 0, sizeof(*f));
    f->rng = seed;
    f->link_down_steps = 64;
}

int zcm_fault(zcm_faults_t *f, int kind) {
    if (kind < 0 || kind >= ZCM_NFAULTS || !zcdma_rng_chance(&f->rng, f->rate[kind])) {
        return 0;
    }
    f->injected[kind]++;
    return 1;
}

uint32_t zcm_rand(zcm_faults_t *f, uint32_t n) {
    return n ? (uint32_t)(zcdma_rng_next(&f->rng) % n) : 0;
}

int zcm_fault_kind(const char *name) {
    for (int k = 0; k < ZCM_NFAULTS; k++) {
        if (strcmp(name, fault_names[k]) == 0) {
            return k;
        }
    }
    return -1;
}

const char *zcm_fault_name(int kind) {
    return kind >= 0 && kind < ZCM_NFAULTS ? fault_names[kind] : "?";
}

// ---- the wire ------------------------------------------------------------------------

int zcm_wire_open_tap(zcm_wire_t *w, const char *name, int attach, char *name_out, size_t name_len) {
    memset(w, 0, sizeof(*w));
    w->tap_fd = -1;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (attach ? 0 : IFF_TUN_EXCL);
    strncpy(ifr.ifr_name, name ? name : "", IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (name_out && name_len) {
        strncpy(name_out, ifr.ifr_name, name_len - 1);
        name_out[name_len - 1] = 0;
    }
    w->tap_fd = fd;
    return 0;
}

static int queue_init(zcm_queue_t *q, unsigned depth) {
    q->head = q->count = 0;
    q->depth = (uint16_t)depth;
    q->len = calloc(depth, sizeof(*q->len));
    q->frame = calloc(depth, sizeof(*q->frame));
    return q->len && q->frame ? 0 : -ENOMEM;
}

static void queue_free(zcm_queue_t *q) {
    free(q->len);
    free(q->frame);
    q->len = NULL;
    q->frame = NULL;
    q->depth = q->count = q->head = 0;
}

static int queue_put(zcm_queue_t *q, const uint8_t *buf, size_t len) {
    if (q->count >= q->depth) {
        return -ENOBUFS;
    }
    if (len > ZCM_FRAME_MAX) {
        return -EMSGSIZE;
    }
    unsigned s = (q->head + q->count) % q->depth;
    memcpy(q->frame[s], buf, len);
    q->len[s] = (uint16_t)len;
    q->count++;
    return 0;
}

static int queue_get(zcm_queue_t *q, uint8_t *buf, size_t max) {
    if (q->count == 0) {
        return 0;
    }
    unsigned s = q->head;
    size_t n = q->len[s];
    memcpy(buf, q->frame[s], n < max ? n : max);
    q->head = (uint16_t)((q->head + 1) % q->depth);
    q->count--;
    return (int)n;
}

int zcm_wire_open_queue(zcm_wire_t *w, unsigned depth) {
    memset(w, 0, sizeof(*w));
    w->tap_fd = -1;
    if (depth == 0 || depth > 4096 || queue_init(&w->to_mac, depth) || queue_init(&w->from_mac, depth)) {
        zcm_wire_close(w);
        return -ENOMEM;
    }
    return 0;
}

void zcm_wire_close(zcm_wire_t *w) {
    if (w->tap_fd >= 0) {
        close(w->tap_fd);
        w->tap_fd = -1;
    }
    queue_free(&w->to_mac);
    queue_free(&w->from_mac);
}

int zcm_wire_recv(zcm_wire_t *w, uint8_t *buf, size_t max) {
    if (w->tap_fd < 0) {
        return queue_get(&w->to_mac, buf, max);
    }
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = read(w->tap_fd, buf, max);
        if (n > 0) {
            return (int)n;
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

int zcm_wire_send(zcm_wire_t *w, const uint8_t *buf, size_t len) {
    if (w->tap_fd < 0) {
        int r = queue_put(&w->from_mac, buf, len);
        if (r < 0) {
            w->queue_full++;
        }
        return r;
    }
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = write(w->tap_fd, buf, len);
        if (n >= 0) {
            return 0;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
    return -EINTR;
}

int zcm_wire_inject(zcm_wire_t *w, const uint8_t *buf, size_t len) {
    if (w->tap_fd >= 0) {
        return -EINVAL;
    }
    int r = queue_put(&w->to_mac, buf, len);
    if (r == -ENOBUFS) {
        w->queue_full++;
    }
    return r;
}

int zcm_wire_take(zcm_wire_t *w, uint8_t *buf, size_t max) {
    if (w->tap_fd >= 0) {
        return -EINVAL;
    }
    return queue_get(&w->from_mac, buf, max);
}

unsigned zcm_wire_pending(const zcm_wire_t *w) {
    return w->tap_fd < 0 ? w->to_mac.count : 0;
}

// ---- the interrupt line ------------------------------------------------------------------

int zcm_irq_open(zcm_irq_t *q, int wire_fd) {
    q->asserted = 0;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (q->efd < 0 || q->epfd < 0) {
        int e = errno;
        zcm_irq_close(q);
        return -e;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = q->efd;
    if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->efd, &ev) < 0) {
        int e = errno;
        zcm_irq_close(q);
        return -e;
    }
    if (wire_fd >= 0) {
        ev.data.fd = wire_fd;
        if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, wire_fd, &ev) < 0) {
            int e = errno;
            zcm_irq_close(q);
            return -e;
        }
    }
    return 0;
}

void zcm_irq_close(zcm_irq_t *q) {
    if (q->efd >= 0) {
        close(q->efd);
    }
    if (q->epfd >= 0) {
        close(q->epfd);
    }
    q->efd = q->epfd = -1;
}

void zcm_irq_set(zcm_irq_t *q, int asserted) {
    if (q->efd < 0 || asserted == q->asserted) {
        return;
    }
    q->asserted = asserted;
    uint64_t v = 1;
    if (asserted) {
        (void)!write(q->efd, &v, sizeof(v));
    } else {
        (void)!read(q->efd, &v, sizeof(v));
    }
}

void zcm_irq_kick(zcm_irq_t *q) {
    zcm_irq_set(q, 1);
}
#endif
