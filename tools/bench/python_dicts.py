"""The Python workload: dictionaries, strings, lists and JSON, as a web
service's Python does. Run with PYTHONMALLOC=malloc so that every object
(dict, str, tuple, int) comes from the allocator under test:

    PYTHONMALLOC=malloc python3 python_dicts.py [SCALE]

Checks every result against a second computation or a closed form and exits 1
with "FAIL ..." on a mismatch; prints "ok" lines otherwise."""

import json
import sys


def check(ok, what):
    if not ok:
        print("FAIL", what)
        sys.exit(1)
    print("ok", what)


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    n = max(1000, int(150000 * scale))

    # A table of records keyed by strings, as parsed requests or rows.
    records = {}
    for i in range(n):
        key = "user:%08d" % ((i * 7919) % 1000003)
        records[key] = {
            "id": i,
            "name": "name-" + str(i) * (1 + i % 5),
            "tags": ["t%d" % (i % 17), "g%d" % (i % 29)],
            "score": (i * 31) % 1000,
        }
    check(len(records) == n, "distinct keys")
    check(sum(r["id"] for r in records.values()) == n * (n - 1) // 2, "ids")

    # Serialise and parse back, as a service answering requests does.
    text = json.dumps(records, sort_keys=True)
    back = json.loads(text)
    check(back == records, "json round trip")
    del back

    # Group, sort and join strings.
    groups = {}
    for key, r in records.items():
        groups.setdefault(r["tags"][0], []).append(key)
    check(sum(len(v) for v in groups.values()) == n, "groups")
    ordered = sorted(records, key=lambda k: (records[k]["score"], k))
    check(all(records[a]["score"] <= records[b]["score"]
              for a, b in zip(ordered, ordered[1:])), "sort")
    joined = ",".join(ordered)
    check(len(joined) == n * len("user:00000000") + n - 1, "join")
    check(joined.split(",") == ordered, "split")

    # Churn: drop half, update the rest, add new ones.
    for key in ordered[::2]:
        del records[key]
    for r in records.values():
        r["name"] = r["name"].upper() + "!"
        r["tags"].append(str(r["score"]))
    for i in range(n, n + n // 2):
        records["new:%d" % i] = {"id": i, "name": "n%d" % i, "tags": [], "score": 0}
    check(len(records) == n - (n + 1) // 2 + n // 2, "churn")
    check(all(r["name"].endswith("!") for k, r in records.items()
              if k.startswith("user:")), "updates")


if __name__ == "__main__":
    main()
