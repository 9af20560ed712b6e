# The block pool: the C module when the build has it, else its Python twin.
try:
    import zcpool as pool
except ImportError:
    from . import pool_py as pool


def at_baseline():
    """DESIGN invariant 4: every frame block is free or posted in an RX ring,
    and every header block is free (RX never posts header blocks)."""
    return (pool.nfree() + pool.held(pool.H_RXPOST) == pool.NBLOCKS
            and pool.hnfree() == pool.HNBLOCKS)
