#!/usr/bin/env python3
"""Size report of a zcstack firmware image (tools/build_firmware.sh runs it).

Writes OUT/size.json: the image's text/data/bss (arm-none-eabi-size), and
what our parts take in it, summed from the linker map's input sections
(after --gc-sections): the frozen stack (frozen_content.o: the .mpy data,
Viper machine code and the frozen qstrs) and each folder of our C code
(drivers/NAME, firmware/modules/NAME) that has objects in it. Also OUT/board.json: what the firmware tests need to boot
it (QEMU machine, whether it boots, modules). Prints a one-line summary.
"""
import argparse
import json
import os
import re
import subprocess
import sys

# An input section line of the map: " .text.foo  0xADDR  0xSIZE  object",
# or its name alone on one line and "  0xADDR  0xSIZE  object" on the next.
_INPUT = re.compile(r"^\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(\S.*)$")
_NAMED = re.compile(r"^\s(\.\S+|COMMON)\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(\S.*)$")
_OUTPUT = re.compile(r"^(\.\S+)\s")


def kind_of(out_sect):
    if out_sect.startswith(".bss"):
        return "bss"
    if out_sect.startswith(".data"):
        return "data"
    return "text"


def parse_map(path):
    """{object path: {"text": n, "data": n, "bss": n}} for the linked image."""
    sizes = {}
    in_map = False
    out_sect = None
    pending = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not in_map:
                in_map = line.startswith("Linker script and memory map")
                continue
            m = _OUTPUT.match(line)
            if m:
                out_sect = m.group(1)
                pending = None
                continue
            if out_sect is None or out_sect.startswith((".ARM", ".comment", ".debug")):
                continue
            m = _NAMED.match(line)
            if m:
                size, obj = int(m.group(3), 16), m.group(4)
            else:
                m = _INPUT.match(line)
                if not (m and pending):
                    s = line.strip()
                    pending = s if (s.startswith(".") or s == "COMMON") and " " not in s else None
                    continue
                size, obj = int(m.group(2), 16), m.group(3)
            pending = None
            if size == 0 or not obj.endswith(".o"):
                continue
            d = sizes.setdefault(obj, {"text": 0, "data": 0, "bss": 0})
            d[kind_of(out_sect)] += size
    return sizes


def berkeley(elf):
    out = subprocess.run(["arm-none-eabi-size", "-B", elf], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def total(parts):
    t = {"text": 0, "data": 0, "bss": 0}
    for p in parts:
        for k in t:
            t[k] += p[k]
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--board", required=True)
    ap.add_argument("--map", required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--build", required=True, help="the port's BUILD directory")
    ap.add_argument("--top", required=True, help="the repository (drivers/, firmware/modules/)")
    ap.add_argument("--modules", nargs="*", default=[], help="NAME=DIR: a user C module and its folder")
    ap.add_argument("--qemu-machine", default="")
    ap.add_argument("--boot", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    objs = parse_map(a.map)
    frozen = total([v for k, v in objs.items() if os.path.basename(k) == "frozen_content.o"])
    # Our C objects by folder: the port puts the object of /x/y.c at
    # BUILD/x/y.o, so BUILD + a folder of ours is where that folder's objects
    # are. Every folder of drivers/ and firmware/modules/ counts, listed as a
    # module or reached from one (e.g. a driver's ../dma sources).
    build = os.path.abspath(a.build)
    roots = [os.path.join(a.top, "drivers"), os.path.join(a.top, "firmware", "modules")]
    modules = {}
    for obj, v in objs.items():
        p = os.path.abspath(obj)
        for r in roots:
            pre = os.path.abspath(build + "/" + r) + os.sep
            if p.startswith(pre):
                name = p[len(pre):].split(os.sep)[0]
                modules[name] = total([modules.get(name, {"text": 0, "data": 0, "bss": 0}), v])
    for spec in a.modules:      # a listed module always appears, if only as zeros
        modules.setdefault(spec.partition("=")[0], {"text": 0, "data": 0, "bss": 0})
    image = berkeley(a.elf)
    report = {
        "board": a.board,
        "image": image,
        "flash": image["text"] + image["data"],     # what the image needs in ROM
        "ram_static": image["data"] + image["bss"],  # incl. the GC heap and zcpool's arenas
        "frozen_stack": frozen,
        "modules": modules,
    }
    with open(os.path.join(a.out, "size.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, "board.json"), "w") as f:
        json.dump({"board": a.board, "qemu_machine": a.qemu_machine,
                   "boot": a.boot == "1", "modules": dict(x.partition("=")[::2] for x in a.modules),
                   "elf": os.path.abspath(a.elf)}, f, indent=1, sort_keys=True)
        f.write("\n")
    mods = " ".join("%s %d" % (m, v["text"] + v["data"]) for m, v in modules.items())
    print("%s: text %d data %d bss %d; frozen stack %d; modules (text+data): %s"
          % (a.board, image["text"], image["data"], image["bss"],
             frozen["text"] + frozen["data"], mods))
    if frozen["text"] == 0:
        print("fw_size: no frozen_content.o in the map: is the stack frozen in?", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
