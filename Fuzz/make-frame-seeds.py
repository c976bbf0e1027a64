#!/usr/bin/env python3
"""Writes the seed corpus of the frame fuzzer (Fuzz/frame-corpus/).

The seeds are in the harness's input encoding, not raw frames: see the comment
at the top of Fuzz/FrameFuzz.swift. Each frame is
    op, [2 marker bytes], dst, src, auth, handle, reply_to, payload kind, payload, [length bytes]
where ids, handles and payloads are selectors the harness resolves against the
live master (the child's id, the pending call's handle, ...).

    python3 Fuzz/make-frame-seeds.py        # rewrites Fuzz/frame-corpus/
    FRAME_FUZZ_TRACE=1 .build-fuzz/frame-fuzz Fuzz/frame-corpus/add-route.bin   # what one does
"""
import os

# op: low nibble the marker, high nibble the length mode.
PICKLED, RAW, BINARY, GARBAGE = 0x00, 0x06, 0x0B, 0x0F
EXACT, LONGER, SHORTER, NEAR_LIMIT, RAW_LENGTH = 0x00, 0xC0, 0xD0, 0xE0, 0xF0

# id selectors (below 128: the field's usual value).
USUAL = 0x00
MASTER = 128 + 16
CHILD = 128 + 32
SENTINEL = 128 + 48
def granted(offset):  # child + 1 + offset: the first block ALLOCATE_ID grants
    return bytes([128 + 64, offset])
def literal(n):       # ids 0-15
    return bytes([128 + n])

# handle selectors
def std(handle):      # 100-113
    return bytes([handle - 100])
REPLY, BARRIER, PROBE = bytes([114]), bytes([112]), bytes([113])
GET_MODULE, CALL_FUNCTION, FORWARD_LOG, ADD_ROUTE, DEL_ROUTE, ALLOCATE_ID, SHUTDOWN = (std(h) for h in (100, 101, 102, 103, 104, 105, 106))

# reply_to selectors
NO_REPLY, DEAD, WANTS_REPLY = 0, 96, 160

# payload kinds: below 128 the payload suits the handle; 128 + n picks kind n.
NATURAL = 0
def raw(data):
    return bytes([128, len(data)]) + data
def filler(byte, which):  # which: 0 maxSize-1, 1 maxSize, 2 maxSize+1
    return bytes([128 + 13, byte, which])


def frame(op, dst=USUAL, src=USUAL, auth=USUAL, handle=std(101), reply_to=NO_REPLY, payload=bytes([NATURAL]),
          marker=b"", length=b""):
    ids = b"".join(x if isinstance(x, bytes) else bytes([x]) for x in (dst, src, auth))
    return bytes([op]) + marker + ids + handle + bytes([reply_to]) + payload + length


def call_tuple(chain=0, args=(), kwargs=None):
    """Natural CALL_FUNCTION payload: chain byte, arg count, args, kwargs flag [, timeout]."""
    out = bytes([NATURAL, chain, len(args)]) + bytes(args)
    return out + (bytes([1, kwargs]) if kwargs is not None else bytes([0]))


def route_text(id_selector, name=b""):
    """Natural ADD_ROUTE payload: "<id>:<name>" (name length byte = len + 1; 0: no name)."""
    return bytes([NATURAL]) + id_selector + bytes([len(name) + 1 if name else 0]) + name


def log_text(logger, level_index, message, form=2):
    return bytes([NATURAL, len(logger)]) + logger + bytes([level_index, len(message)]) + message + bytes([form])


def reply_value(n, which):
    """Natural payload on the pending call's handle: a pickled value (0 int, 2 CallError, 5 tuple, 6 context...)."""
    return bytes([NATURAL, n, which])


SEEDS = {
    # The child calls the master (which serves no calls: "invalid handle"),
    # then asks the sentinel to run a function, as a sibling would.
    "call-function.bin":
        frame(PICKLED, handle=CALL_FUNCTION, reply_to=WANTS_REPLY, payload=call_tuple(args=(1, 2)))
        + frame(PICKLED, dst=SENTINEL, handle=CALL_FUNCTION, reply_to=WANTS_REPLY, payload=call_tuple(chain=1, kwargs=5)),
    # ALLOCATE_ID, then ADD_ROUTE for the first id of the block, a message
    # from that grandchild, and DEL_ROUTE for it.
    "add-route.bin":
        frame(RAW, handle=ALLOCATE_ID, reply_to=WANTS_REPLY)
        + frame(RAW, handle=ADD_ROUTE, payload=route_text(granted(0), b"grandchild"))
        + frame(PICKLED, src=granted(0), auth=granted(0), handle=REPLY, payload=reply_value(7, 0))
        + frame(RAW, handle=DEL_ROUTE, payload=bytes([NATURAL]) + granted(0)),
    # ADD_ROUTE for ids never granted: the master's, the sentinel's, the next child's.
    "add-route-forged.bin":
        frame(RAW, handle=ADD_ROUTE, payload=route_text(bytes([MASTER]), b"master"))
        + frame(RAW, handle=ADD_ROUTE, payload=route_text(bytes([SENTINEL]), b"sentinel"))
        + frame(RAW, handle=ADD_ROUTE, payload=route_text(granted(0), b"future"))
        + frame(PICKLED, dst=SENTINEL, src=MASTER, auth=MASTER, handle=CALL_FUNCTION, payload=call_tuple()),
    "allocate-id.bin": b"".join(frame(RAW, handle=ALLOCATE_ID, reply_to=WANTS_REPLY + i) for i in range(4)),
    "forward-log.bin":
        frame(RAW, handle=FORWARD_LOG, payload=log_text(b"ansible_mitogen.runner", 3, b"child says hello"))
        + frame(RAW, handle=FORWARD_LOG, payload=log_text(b"x", 7, b"level out of range"))
        + frame(RAW, handle=FORWARD_LOG, payload=log_text(b"no-message", 1, b"", form=0)),
    # A reply to the master's pending call, then a dead message on it.
    "call-reply.bin":
        frame(PICKLED, handle=REPLY, payload=reply_value(42, 0))
        + frame(RAW, handle=REPLY, reply_to=DEAD, payload=raw(b"the respondent Context has disconnected")),
    "call-error.bin": frame(PICKLED, handle=REPLY, payload=reply_value(1, 2)),
    # Dead messages: to the master's handles, to the sentinel, with a reply wanted.
    "dead.bin":
        frame(RAW, handle=REPLY, reply_to=DEAD, payload=raw(b""))
        + frame(RAW, handle=ALLOCATE_ID, reply_to=DEAD, payload=raw(b"gone"))
        + frame(RAW, dst=SENTINEL, handle=bytes([160]), reply_to=DEAD, payload=raw(b"dead to a sibling")),
    # A frame whose length is past the limit: the stream is cut.
    "oversized-length.bin":
        frame(RAW, handle=SHUTDOWN, payload=raw(b"x"))
        + frame(RAW | NEAR_LIMIT, handle=CALL_FUNCTION, payload=raw(b"short"), length=bytes([4])),
    # Payloads of exactly the limit (accepted) and one byte more (cut).
    "limit-payload.bin":
        frame(BINARY, dst=SENTINEL, handle=bytes([161]), payload=filler(0x41, 1))
        + frame(BINARY, dst=SENTINEL, handle=bytes([161]), payload=filler(0x42, 2)),
    # A length one byte longer than the payload: the next frame's bytes are swallowed.
    "truncated.bin":
        frame(RAW | LONGER, handle=GET_MODULE, payload=raw(b"abc"), length=bytes([0]))
        + frame(RAW, handle=ALLOCATE_ID, reply_to=WANTS_REPLY),
    # A length shorter than the payload: its rest is read as a header.
    "short-length.bin":
        frame(RAW | SHORTER, handle=GET_MODULE, payload=raw(b"MJ" + bytes(30)), length=bytes([31])),
    "bad-marker.bin": frame(GARBAGE, marker=b"XX", handle=ALLOCATE_ID, reply_to=WANTS_REPLY),
    # Messages from ids the child does not own, and to the master's probe handler.
    "spoofed-ids.bin":
        frame(RAW, src=SENTINEL, handle=ALLOCATE_ID, reply_to=WANTS_REPLY)
        + frame(RAW, auth=MASTER, handle=ADD_ROUTE, payload=route_text(granted(1), b"x"))
        + frame(RAW, src=literal(3), auth=CHILD, handle=PROBE, reply_to=WANTS_REPLY, payload=raw(b"probe?"))
        + frame(RAW, handle=PROBE, reply_to=WANTS_REPLY, payload=raw(b"probe?")),
    # The child routes to itself and to nowhere, and deletes its own route.
    "self-route.bin":
        frame(RAW, dst=CHILD, handle=bytes([170]), reply_to=WANTS_REPLY, payload=raw(b"echo"))
        + frame(RAW, dst=literal(9), handle=bytes([170]), reply_to=WANTS_REPLY, payload=raw(b"nowhere"))
        + frame(RAW, handle=DEL_ROUTE, payload=bytes([NATURAL, CHILD]))
        + frame(PICKLED, handle=REPLY, payload=reply_value(1, 0)),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frame-corpus")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
