# zcstack unix variant: no TLS/btree (their submodules are stripped from the
# Debian source tree), our frozen manifest.
MICROPY_PY_SSL = 0
MICROPY_SSL_AXTLS = 0
MICROPY_SSL_MBEDTLS = 0
MICROPY_PY_BTREE = 0
CFLAGS_EXTRA += -DMICROPY_PY_CRYPTOLIB=0
