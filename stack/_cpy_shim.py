# Under CPython there is no `micropython` module. Stack modules use its
# decorators and const(); this shim makes them plain Python. Viper kernels
# are never *called* under CPython: each has a plain twin selected at import.
import sys
import types

_m = types.ModuleType("micropython")
_m.const = lambda x: x
_m.viper = lambda f: f
_m.native = lambda f: f
_m.alloc_emergency_exception_buf = lambda n: None
_m.mem_info = lambda *a: None
sys.modules["micropython"] = _m
