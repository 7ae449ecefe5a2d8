"""The matrix's canary sender: proves that each language's receiver can fail.

    corrupt.py send queue <object-name>      (the peers' command line; queue only)

It puts the matrix cases on the queue in order, as peer.py does, but with the values in
MUTATIONS changed in ways a lax checker would miss (1 for True, 0.0 for 0, a float detour for
2**53 + 1, +0.0 for -0.0, bytes for a string, True for an integer map key, one flipped bit in
the megabyte, ...), then one extra item. It prints ``mutated <case>`` for each; the runner
expects the receiver to report FAIL for exactly those cases and for ``end``, and ``ok`` for
every other case.
"""

from __future__ import annotations

import sys

import xproc
from peer import CASES

#: Case name -> the wrong value sent in its place.
MUTATIONS = {
    "true": 1,
    "zero": 0.0,
    "two_pow_53_plus_1": float(2**53 + 1),
    "nan": None,
    "neg_zero": 0.0,
    "empty_string": b"",
    "empty_bytes": "",
    "nested_map": {
        "name": "matrix",
        "inner": {"list": [1, 2, 3], "deep": {"x": -1, "empty": []}},
        "empty_list": [],
    },
    "int_key_map": {True: "one", -2: "minus two"},
    "mixed_array": [1, "two", 3.25, True, None, b"\x00\xff", {"k": "v"}, [-5.0]],
    "bytes_1mib": bytes((i % 251) ^ (i == 777_777) for i in range(1 << 20)),
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[:2] != ["send", "queue"]:
        print("usage: corrupt.py send queue <object-name>", file=sys.stderr)
        return 2
    with xproc.connect() as c:
        q = c.Queue(argv[2])
        for name, value in CASES:
            q.put(MUTATIONS.get(name, value))
        q.put("one item too many")
    # The runner learns from these lines which cases the receiver must fail.
    for name in MUTATIONS:
        print(f"mutated {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
