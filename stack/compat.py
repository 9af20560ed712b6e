# What differs between MicroPython (the product) and CPython (the fast unit lane).
import sys

IS_MPY = sys.implementation.name == "micropython"
