// zcsys: the few Linux system calls the unix-port tools and tests need that
// MicroPython's `os` lacks, so nothing needs `ffi` (which a 32-bit build has
// not: libffi for i386 would need a foreign architecture). Module `zcsys`:
//
//   efd_open()            -> fd    eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
//   efd_set(fd)                    add 1 to the counter (readable from then on)
//   efd_clear(fd)                  read the counter back to 0 (nothing pending: no-op)
//   close(fd)
//   signalfd(sigs)        -> fd    block the signals in `sigs` (a tuple/list of
//                                  numbers) and return a non-blocking signalfd for them
//   signalfd_take(fd)     -> int   the next pending signal's number, 0 when none
//   getpid()              -> int
//   if_nametoindex(name)  -> int   0 when this network namespace has no such interface
//   netns_id()            -> int   inode of /proc/self/ns/net (names the namespace)
//
// Errors raise OSError(errno). Not on any per-packet path except efd_set and
// efd_clear, which allocate nothing.
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "py/runtime.h"
#include "py/mperrno.h"

static mp_obj_t zcsys_efd_open(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    return MP_OBJ_NEW_SMALL_INT(fd);
}
static MP_DEFINE_CONST_FUN_OBJ_0(zcsys_efd_open_obj, zcsys_efd_open);

static mp_obj_t zcsys_efd_set(mp_obj_t fd_in) {
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(mp_obj_get_int(fd_in), &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    // EAGAIN: the counter is at its maximum, i.e. already readable.
    if (n < 0 && errno != EAGAIN) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_efd_set_obj, zcsys_efd_set);

static mp_obj_t zcsys_efd_clear(mp_obj_t fd_in) {
    uint64_t v;
    ssize_t n;
    do {
        n = read(mp_obj_get_int(fd_in), &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_efd_clear_obj, zcsys_efd_clear);

static mp_obj_t zcsys_close(mp_obj_t fd_in) {
    if (close(mp_obj_get_int(fd_in)) != 0 && errno != EINTR) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_close_obj, zcsys_close);

static mp_obj_t zcsys_signalfd(mp_obj_t sigs_in) {
    sigset_t mask;
    sigemptyset(&mask);
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(sigs_in, &n, &items);
    for (size_t i = 0; i < n; i++) {
        mp_int_t s = mp_obj_get_int(items[i]);
        if (s <= 0 || s >= NSIG || sigaddset(&mask, (int)s) != 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("bad signal number"));
        }
    }
    // Blocked first: from now on these signals wait in the fd instead of
    // killing the process.
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
        mp_raise_OSError(errno);
    }
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    return MP_OBJ_NEW_SMALL_INT(fd);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_signalfd_obj, zcsys_signalfd);

static mp_obj_t zcsys_signalfd_take(mp_obj_t fd_in) {
    struct signalfd_siginfo si;
    ssize_t n;
    do {
        n = read(mp_obj_get_int(fd_in), &si, sizeof(si));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN) {
            return MP_OBJ_NEW_SMALL_INT(0);
        }
        mp_raise_OSError(errno);
    }
    if (n != (ssize_t)sizeof(si)) {
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    return MP_OBJ_NEW_SMALL_INT(si.ssi_signo);
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_signalfd_take_obj, zcsys_signalfd_take);

static mp_obj_t zcsys_getpid(void) {
    return mp_obj_new_int(getpid());
}
static MP_DEFINE_CONST_FUN_OBJ_0(zcsys_getpid_obj, zcsys_getpid);

static mp_obj_t zcsys_if_nametoindex(mp_obj_t name_in) {
    const char *name = mp_obj_str_get_str(name_in);
    return mp_obj_new_int_from_uint(if_nametoindex(name));
}
static MP_DEFINE_CONST_FUN_OBJ_1(zcsys_if_nametoindex_obj, zcsys_if_nametoindex);

static mp_obj_t zcsys_netns_id(void) {
    struct stat sb;
    if (stat("/proc/self/ns/net", &sb) != 0) {
        mp_raise_OSError(errno);
    }
    return mp_obj_new_int_from_ull((unsigned long long)sb.st_ino);
}
static MP_DEFINE_CONST_FUN_OBJ_0(zcsys_netns_id_obj, zcsys_netns_id);

static const mp_rom_map_elem_t zcsys_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_zcsys) },
    { MP_ROM_QSTR(MP_QSTR_efd_open), MP_ROM_PTR(&zcsys_efd_open_obj) },
    { MP_ROM_QSTR(MP_QSTR_efd_set), MP_ROM_PTR(&zcsys_efd_set_obj) },
    { MP_ROM_QSTR(MP_QSTR_efd_clear), MP_ROM_PTR(&zcsys_efd_clear_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&zcsys_close_obj) },
    { MP_ROM_QSTR(MP_QSTR_signalfd), MP_ROM_PTR(&zcsys_signalfd_obj) },
    { MP_ROM_QSTR(MP_QSTR_signalfd_take), MP_ROM_PTR(&zcsys_signalfd_take_obj) },
    { MP_ROM_QSTR(MP_QSTR_getpid), MP_ROM_PTR(&zcsys_getpid_obj) },
    { MP_ROM_QSTR(MP_QSTR_if_nametoindex), MP_ROM_PTR(&zcsys_if_nametoindex_obj) },
    { MP_ROM_QSTR(MP_QSTR_netns_id), MP_ROM_PTR(&zcsys_netns_id_obj) },
};
static MP_DEFINE_CONST_DICT(zcsys_globals, zcsys_globals_table);

const mp_obj_module_t zcsys_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&zcsys_globals,
};

MP_REGISTER_MODULE(MP_QSTR_zcsys, zcsys_module);
