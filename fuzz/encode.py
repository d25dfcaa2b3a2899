#!/usr/bin/env python3
"""Writes a fuzz input from a readable program, for seeds and regressions.

    fuzz/encode.py PROGRAM.txt OUTPUT      (or - for stdin)
    fuzz/encode.py --all                   fuzz/corpus_src/T/.../NAME.txt -> fuzz/corpus/T/.../NAME

One op per line, '#' starts a comment. Numbers are Python integer
expressions without spaces (4096, 0x10, 2**30-1). SLOT is 0..63.

    threads N [respawn] [owners_free]   first line of a threads-target input
    malloc SLOT SIZE                    valloc SLOT SIZE     pvalloc SLOT SIZE
    calloc SLOT COUNT SIZE              reallocarray SLOT COUNT SIZE
    realloc SLOT SIZE                   realloc SLOT x2|/2|+1|-1|+4096|0
    memalign SLOT ALIGN SIZE            aligned_alloc SLOT ALIGN SIZE
    posix_memalign SLOT ALIGN SIZE
    free SLOT       free_sized SLOT     free_aligned_sized SLOT
    usable SLOT     rewrite SLOT        trim        barrier
    handover SLOT THREAD2 SLOT2         (single thread: swaps SLOT and SLOT2)

In a threads input every op line starts with its thread, e.g. "t1: malloc 0 64".
The byte format is decoded by fuzz/ops.cc (DecodeOp); keep the two in step.
"""
import glob
import os
import struct
import sys

# The index of each op's first entry in kOpTable (fuzz/ops.cc).
OPCODES = {
    "malloc": 0, "calloc": 4, "realloc": 6, "reallocarray": 11, "memalign": 13,
    "posix_memalign": 15, "aligned_alloc": 17, "valloc": 19, "pvalloc": 20,
    "free": 21, "free_sized": 25, "free_aligned_sized": 26, "usable": 27,
    "rewrite": 28, "trim": 29, "handover": 30, "barrier": 31,
}
# Selector bytes that make DecodeSize / DecodeCount / DecodeAlignment read a
# raw 64-bit little-endian value.
RAW_SIZE, RAW_COUNT, RAW_ALIGN = 13, 7, 7
RESIZE = {"x2": 128, "/2": 130, "+1": 131, "-1": 132, "+4096": 133, "0": 135}


def number(text):
    value = eval(text, {"__builtins__": {}})  # integer expressions only
    if not isinstance(value, int) or not 0 <= value < 2**64:
        raise ValueError("not a 64-bit unsigned value: " + text)
    return value


def raw(selector, text):
    return bytes([selector]) + struct.pack("<Q", number(text))


def encode(lines):
    out = bytearray()
    threads = 1
    for lineno, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            if words[0] == "threads":
                if out:
                    raise ValueError("'threads' must come first")
                threads = number(words[1])
                header = (threads - 2) | (2 if "respawn" in words else 0)
                header |= 4 if "owners_free" in words else 0
                out.append(header)
                continue
            thread = 0
            if threads > 1:
                if not words[0].startswith("t") or not words[0].endswith(":"):
                    raise ValueError("threads input: start the line with tN:")
                thread = number(words[0][1:-1])
                words = words[1:]
            op, args = words[0], words[1:]
            out.append(OPCODES[op])
            if threads > 1:
                out.append(thread)
            if op in ("trim", "barrier"):
                continue
            out.append(number(args[0]))  # slot
            if op in ("malloc", "valloc", "pvalloc"):
                out += raw(RAW_SIZE, args[1])
            elif op in ("calloc", "reallocarray"):
                out += raw(RAW_COUNT, args[1]) + raw(RAW_SIZE, args[2])
            elif op == "realloc":
                if args[1] in RESIZE:
                    out.append(RESIZE[args[1]])
                else:
                    out += bytes([0]) + raw(RAW_SIZE, args[1])
            elif op in ("memalign", "posix_memalign", "aligned_alloc"):
                out += raw(RAW_ALIGN, args[1]) + raw(RAW_SIZE, args[2])
            elif op == "handover":
                if threads > 1:
                    out.append(number(args[1]))
                out.append(number(args[-1]))
        except (KeyError, IndexError, ValueError, SyntaxError, NameError) as e:
            sys.exit("line %d: %r: %s" % (lineno, line.strip(), e))
    return bytes(out)


def write_all():
    fuzz = os.path.dirname(os.path.abspath(__file__))
    sources = os.path.join(fuzz, "corpus_src")
    for source in sorted(glob.glob(os.path.join(sources, "**", "*.txt"), recursive=True)):
        relative = os.path.splitext(os.path.relpath(source, sources))[0]
        out = os.path.join(fuzz, "corpus", relative)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(source) as f, open(out, "wb") as o:
            o.write(encode(f.read().splitlines()))
        print(os.path.relpath(out))


def main():
    if sys.argv[1:] == ["--all"]:
        write_all()
        return
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    with open(sys.argv[2], "wb") as f:
        f.write(encode(source.read().splitlines()))


if __name__ == "__main__":
    main()
