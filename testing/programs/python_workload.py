"""A threaded Python workload for lite_malloc (run with PYTHONMALLOC=malloc, so
every Python object is a malloc'd block): threads build and tear down dicts,
lists, strings and bytes, hand objects to each other through a queue, and
print a digest of what they made, which must not depend on the allocator.

With "--owner" it also checks, through ctypes, that a fresh bytes object (not
garbage-collected, so its address is its block's) is lite_malloc's; that line
goes to stderr, so that stdout is the same with and without lite_malloc."""
import ctypes
import hashlib
import queue
import sys
import threading


def work(seed, out, handoff):
    digest = hashlib.sha256()
    table = {}
    for i in range(30000):
        key = f"{seed}-{i % 4000}"
        table[key] = [i, str(i) * (i % 7), bytes(i % 300)]
        if i % 5 == 0:
            table.pop(f"{seed}-{(i * 7) % 4000}", None)
        if i % 1000 == 0:
            handoff.put({"from": seed, "items": list(table.items())[:50]})
    for key in sorted(table):
        digest.update(key.encode())
        digest.update(repr(table[key][:2]).encode())
    out[seed] = digest.hexdigest()


def main():
    out = {}
    handoff = queue.Queue()
    threads = [threading.Thread(target=work, args=(seed, out, handoff)) for seed in range(4)]
    for thread in threads:
        thread.start()
    received = 0
    while any(thread.is_alive() for thread in threads) or not handoff.empty():
        try:
            message = handoff.get(timeout=0.05)
        except queue.Empty:
            continue
        received += len(message["items"])
    for thread in threads:
        thread.join()
    for seed in sorted(out):
        print(seed, out[seed])
    print("handed over", received)

    if "--owner" in sys.argv:
        owns = getattr(ctypes.CDLL(None), "lite_malloc_owns", None)
        block = bytes(range(200)) * 10
        owned = bool(owns and owns(ctypes.c_void_p(id(block))))
        print("bytes object is lite_malloc's:", owned, file=sys.stderr)
        sys.exit(0 if owned == ("lite" in sys.argv) else 1)


main()
