// zcmodel: the harness every MAC behavioural model shares (unix build only).
//
//   - the wire: a TAP fd (frames to and from Linux) or an in-memory queue
//     (frames injected and taken by a test);
//   - seeded, reproducible fault injection: one probability per fault kind,
//     and a count of every fault injected, so a test can check the driver
//     counted exactly what was injected;
//   - the interrupt line: an eventfd the model raises while its interrupt
//     output is asserted, and an epoll fd over it and the TAP fd, which is
//     what the driver answers to MP_STREAM_GET_FILENO: select.poll wakes for
//     a frame on the wire and for an interrupt alike.
//
// The register logic and the DMA engine are each model's own; this is only
// what surrounds them.
#ifndef ZCMODEL_H
#define ZCMODEL_H

#include <stddef.h>
#include <stdint.h>

#define ZCM_FRAME_MAX  (2048)      // largest frame the wire carries (with room for oversize tests)

// Fault kinds (probabilities per million, per frame unless said otherwise).
enum {
    ZCM_F_RX_DROP = 0,             // a frame from the wire is lost before the MAC
    ZCM_F_RX_CORRUPT,              // one byte of a received frame flipped (the CRC still "matches": a bad checksum upstairs)
    ZCM_F_RX_CRC,                  // a received frame fails its CRC (the MAC flags it)
    ZCM_F_RX_OVERRUN,              // the MAC's RX FIFO overflows on a frame
    ZCM_F_TX_DROP,                 // a transmitted frame never reaches the wire
    ZCM_F_TX_CORRUPT,              // one byte of a transmitted frame flipped on the wire
    ZCM_F_BUS_ERROR,               // a DMA access fails (per descriptor fetch)
    ZCM_F_LINK_FLAP,               // the link goes down (per step); it comes back after link_down_steps
    ZCM_NFAULTS
};

typedef struct {
    uint32_t rate[ZCM_NFAULTS];    // per million
    uint32_t injected[ZCM_NFAULTS];
    uint32_t link_down_steps;      // how long a flap keeps the link down (model steps)
    uint64_t rng;
} zcm_faults_t;

// Seed the generator and clear rates and counts.
void zcm_faults_init(zcm_faults_t *f, uint64_t seed);
// Decide one fault of `kind` now; counts it when it fires.
int zcm_fault(zcm_faults_t *f, int kind);
// A pseudo-random number below n (for which byte to corrupt, and such).
uint32_t zcm_rand(zcm_faults_t *f, uint32_t n);
// The fault kind named `name` ("rx_drop", "rx_crc", ...), or -1.
int zcm_fault_kind(const char *name);
const char *zcm_fault_name(int kind);

// ---- the wire ---------------------------------------------------------------------
typedef struct {
    uint16_t head, count, depth;
    uint16_t *len;
    uint8_t (*frame)[ZCM_FRAME_MAX];
} zcm_queue_t;

typedef struct {
    int tap_fd;                    // >= 0: a TAP; -1: the in-memory queues
    zcm_queue_t to_mac;            // queue wire: frames injected, waiting for the MAC
    zcm_queue_t from_mac;          // queue wire: frames the MAC sent
    uint32_t queue_full;           // frames lost because a queue was full
} zcm_wire_t;

// Open a TAP named `name` (created non-persistent, or an existing one with
// attach = 1; IFF_NO_PI, non-blocking). Returns 0 or -errno.
int zcm_wire_open_tap(zcm_wire_t *w, const char *name, int attach, char *name_out, size_t name_len);
// In-memory queues of `depth` frames each way. Returns 0 or -ENOMEM.
int zcm_wire_open_queue(zcm_wire_t *w, unsigned depth);
void zcm_wire_close(zcm_wire_t *w);
// The next frame from the wire for the MAC's RX side: its length (up to
// ZCM_FRAME_MAX; longer frames come truncated with their true length
// returned), 0 when none is waiting, -errno on a TAP error.
int zcm_wire_recv(zcm_wire_t *w, uint8_t *buf, size_t max);
// A frame the MAC transmitted onto the wire. Returns 0 or -errno.
int zcm_wire_send(zcm_wire_t *w, const uint8_t *buf, size_t len);
// Queue wire, test side: put a frame on the wire towards the MAC / take the
// next frame the MAC sent (its length, or 0).
int zcm_wire_inject(zcm_wire_t *w, const uint8_t *buf, size_t len);
int zcm_wire_take(zcm_wire_t *w, uint8_t *buf, size_t max);
// Frames waiting towards the MAC (queue wire; a TAP answers 0: poll its fd).
unsigned zcm_wire_pending(const zcm_wire_t *w);

// ---- the interrupt line ------------------------------------------------------------
typedef struct {
    int efd;                       // eventfd: readable while the line is asserted
    int epfd;                      // epoll over efd and the TAP fd (if any)
    int asserted;
} zcm_irq_t;

// Returns 0 or -errno. wire_fd < 0: no TAP.
int zcm_irq_open(zcm_irq_t *q, int wire_fd);
void zcm_irq_close(zcm_irq_t *q);
// Drive the line: asserted (1) makes the eventfd readable, 0 drains it.
void zcm_irq_set(zcm_irq_t *q, int asserted);
// Mark the in-memory wire as having frames (queue wire: readable as well).
void zcm_irq_kick(zcm_irq_t *q);

#endif
