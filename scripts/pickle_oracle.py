#!/usr/bin/env python3
"""CPython + Mitogen 0.3.54 as the oracle of the Swift pickle codec.

Pickles are made with ``mitogen.core.Message.pickled(obj).data`` and read with
``mitogen.core.Message(data=..., router=FakeRouter).unpickle()``, i.e. with
Mitogen's own pickler and restricted unpickler. Mitogen refuses set and
frozenset when unpickling; for values that hold one, the reader is Mitogen's
``_find_global`` extended with ``__builtin__``/``builtins`` set and frozenset
(the Swift codec's documented extension).

Values are compared through ``canon()``: a text that spells the exact type and
content (floats by bit pattern, so nan and -0.0 compare; dicts and sets in any
order).

Modes:
  golden [PATH]  write the golden vectors (default Tests/MitogenLibTests/Fixtures/pickle-golden.txt)
                 as lines ``name<TAB>hex<TAB>description``.
  serve          answer one command per stdin line, one reply line each:
    random SEED N        N seeded random values; replies N lines ``hex`` and keeps
                         the values for ``verify``.
    verify I HEX         decode HEX, compare with random value I:
                         ``ok`` | ``mismatch <expected canon> <got canon>`` | ``error <text>``
    check NAME HEX       the same against golden value NAME (``multi_*``: all pickles).
    roundtrip HEX        decode HEX, pickle it again with Mitogen: ``ok <hex>`` | ``error <text>``
    refuses HEX          decode HEX with Mitogen's unpickler, extended with sets:
                         ``refused <exception text>`` | ``accepted <canon>``
    quit
"""
import io
import logging
import os
import pickletools
import random
import struct
import sys

import mitogen
import mitogen.core as core


# --------------------------------------------------------------------------
# Reading and writing with Mitogen's own code.

class FakeRouter(core.Router):
    """A Router in type only: enough for _unpickle_sender / _unpickle_context."""

    def __init__(self):
        pass

    def context_by_id(self, context_id, via_id=None, create=True, name=None):
        return core.Context(None, context_id, name)


ROUTER = FakeRouter()


def mitogen_dumps(*objs):
    return core.Message.pickled(*objs).data


def has_set(v):
    if type(v) in (set, frozenset):
        return True
    if isinstance(v, (list, tuple)):
        return any(has_set(x) for x in v)
    if isinstance(v, dict):
        return any(has_set(k) or has_set(x) for k, x in v.items())
    return False


def find_class_with_sets(msg):
    def find(module, name):
        if module in ('__builtin__', 'builtins') and name in ('set', 'frozenset'):
            return {'set': set, 'frozenset': frozenset}[name]
        return msg._find_global(module, name)
    return find


MAX_MEMO_INDEX = 1 << 20


def check_memo_indices(data):
    """CPython grows its memo to twice the largest PUT index (memset included),
    so a hostile LONG_BINPUT would have it touch gigabytes. Refuse those
    up front, as the MemoryError they would end in."""
    f = io.BytesIO(data)
    try:
        while f.tell() < len(data):  # every pickle of a concatenation
            for op, arg, _ in pickletools.genops(f):
                if op.name in ('BINPUT', 'LONG_BINPUT') and arg > MAX_MEMO_INDEX:
                    raise MemoryError('memo index %d not tried' % arg)
    except (ValueError, EOFError):
        pass  # malformed: let the unpickler report it.


def mitogen_loads_all(data, allow_sets=False):
    check_memo_indices(data)
    msg = core.Message(data=data, router=ROUTER)
    find = find_class_with_sets(msg) if allow_sets else msg._find_global
    return list(msg.unpickle_iter(throw=False, find_class=find))


def mitogen_loads(data, allow_sets=False):
    values = mitogen_loads_all(data, allow_sets)
    if len(values) != 1:
        raise ValueError('expected 1 pickle, got %d' % len(values))
    return values[0]


# --------------------------------------------------------------------------
# Exact comparison.

def canon(v):
    t = type(v)
    if v is None:
        return 'N'
    if t is bool:
        return 'T' if v else 'F'
    if t is int:
        return 'i%d' % v
    if t is float:
        return 'f' + struct.pack('>d', v).hex()
    if t is str:
        return 's' + ascii(v)
    if t is bytes:
        return 'b' + v.hex()
    if t is list:
        return '[' + ','.join(canon(x) for x in v) + ']'
    if t is tuple:
        return '(' + ','.join(canon(x) for x in v) + ')'
    if t is dict:
        return '{' + ','.join(sorted(canon(k) + ':' + canon(x) for k, x in v.items())) + '}'
    if t is set:
        return 'set<' + ','.join(sorted(canon(x) for x in v)) + '>'
    if t is frozenset:
        return 'frozenset<' + ','.join(sorted(canon(x) for x in v)) + '>'
    if t is core.Context:
        return 'Context(%d,%s)' % (v.context_id, canon(v.name))
    if t is core.Sender:
        return 'Sender(%d,%d)' % (v.context.context_id, v.dst_handle)
    if t is core.CallError:
        return 'CallError(%s)' % canon(v.args[0])
    if t is core.Blob:
        return 'Blob(%s)' % bytes(v).hex()
    if t is core.Secret:
        return 'Secret(%s)' % ascii(str(v))
    if t is core.Kwargs:
        return 'Kwargs' + canon(dict(v))
    raise TypeError('canon: unexpected type %r' % (t,))


# --------------------------------------------------------------------------
# Golden vectors. The Swift test (PickleGoldenTests) holds the same values,
# written in Swift, under the same names.

def golden_values():
    shared = [1, 2]
    shared_str = 'shared-text'
    traceback_text = (
        "builtins.KeyError: 'nope'\n"
        '  File "<stdin>", line 4009, in _dispatch_one\n'
        '  File "master:/srv/app/prog.py", line 26, in fail\n'
        "    raise KeyError('nope')\n"
    )
    G = []

    def g(name, value, description):
        G.append((name, value, description))

    g('none', None, 'None')
    g('true', True, 'NEWTRUE')
    g('false', False, 'NEWFALSE')
    for name, n in [('int_0', 0), ('int_255', 255), ('int_256', 256), ('int_65535', 65535),
                    ('int_65536', 65536), ('int_neg1', -1), ('int_min32', -2**31),
                    ('int_max32', 2**31 - 1), ('int_2p31', 2**31), ('int_max64', 2**63 - 1),
                    ('int_min64', -2**63), ('int_2p64', 2**64), ('int_neg2p64', -2**64),
                    ('int_2p200', 2**200), ('int_neg2p1000', -2**1000), ('int_2p2100', 2**2100)]:
        g(name, n, 'int %d bits' % n.bit_length())
    for name, f in [('float_0', 0.0), ('float_neg0', -0.0), ('float_1_5', 1.5), ('float_nan', float('nan')),
                    ('float_inf', float('inf')), ('float_neginf', float('-inf')), ('float_1e308', 1e308),
                    ('float_5em324', 5e-324)]:
        g(name, f, 'BINFLOAT ' + repr(f))
    g('str_empty', '', 'empty str')
    g('str_ascii', 'hello', 'ascii str')
    g('str_latin', 'h\xe9llo w\xf6rld', 'latin-1 range str')
    g('str_astral', '\U0001F600\U0001D11E', 'astral str (4-byte UTF-8)')
    g('str_combining', 'e\u0301', 'combining accent')
    g('str_nul', 'a\x00b', 'str with NUL')
    g('bytes_top', b'abc', "top-level bytes: Mitogen's BINSTRING shortcut")
    g('bytes_empty_top', b'', 'top-level empty bytes')
    g('bytes_all_top', bytes(range(256)), 'top-level bytes 00..ff')
    g('bytes_nested', [b'abc', b'', bytes(range(256))], 'nested bytes: _codecs.encode / __builtin__ bytes')
    g('dead_payload', b'invalid handle', 'dead message reason as bytes')
    g('list_empty', [], 'empty list')
    g('tuple_empty', (), 'empty tuple')
    g('dict_empty', {}, 'empty dict')
    g('set_empty', set(), 'empty set (Mitogen refuses on load)')
    g('set_ints', {1, 2, 3}, 'set of ints (Mitogen refuses on load)')
    g('frozenset_in_tuple', (frozenset([7]), 8), 'frozenset inside a tuple')
    g('tuple_1', (1,), 'TUPLE1')
    g('tuple_2', (1, 'a'), 'TUPLE2')
    g('tuple_3', (1, 'a', None), 'TUPLE3')
    g('tuple_4', (1, 2, 3, 4), 'MARK ... TUPLE')
    g('nested', [1, [2, [3, [4, (5, {'six': 6})]]]], 'nesting')
    g('shared_list', [shared, shared], 'same list twice: BINGET')
    g('shared_str', (shared_str, shared_str), 'same str twice: BINGET')
    g('tuple_keys', {(1, 'a'): 'x', (2, (3, 4)): 'y', 5: [6]}, 'dict with tuple keys')
    g('mixed', {'none': None, 'bool': True, 'int': -7, 'big': 2**70, 'float': 2.5, 'str': 'x',
                'list': [1], 'tuple': (2,)}, 'dict of every scalar')
    g('call_function', (None, 'posix', None, 'getpid', (), core.Kwargs({})), 'CALL_FUNCTION of the notes')
    g('call_function_args', ('vm-7125-7fbd16878b80-14a48a03', 'os', None, 'listdir', ['/etc'],
                             core.Kwargs({'follow': True})), 'CALL_FUNCTION with chain id and args')
    g('proxy_connect', (None, 'mitogen.parent', None, '_proxy_connect', (),
                        core.Kwargs({'name': None, 'method_name': 'ssh',
                                     'kwargs': core.Kwargs({'hostname': 'h', 'debug': False,
                                                            'profiling': False, 'unidirectional': False})})),
      'nested Kwargs: BINGET of the memoized GLOBAL')
    g('alloc_reply', (1000, 2000), 'ALLOCATE_ID reply')
    g('reply_int', 7148, 'reply of the notes')
    g('call_error', core.CallError('hi x'), 'CallError of the notes')
    g('call_error_tb', core.CallError(traceback_text), 'CallError with traceback')
    g('context', core.Context(None, 5, 'ssh.host'), 'Context of the notes')
    g('context_noname', core.Context(None, 0, None), 'Context without name')
    g('context_max', core.Context(None, 2**32 - 1, 'x' * 500), 'Context at the id and name limits')
    g('sender', core.Sender(core.Context(None, 7), 1000), 'Sender')
    g('blob', core.Blob(b'abc'), 'Blob of the notes')
    g('blob_empty', core.Blob(b''), 'empty Blob')
    g('secret', core.Secret('pw'), 'Secret of the notes')
    g('kwargs', core.Kwargs({'a': 1}), 'Kwargs of the notes')
    g('kwargs_list', [core.Kwargs({'a': 1}), core.Kwargs({'b': core.Secret('s')})], 'Kwargs twice')
    g('strs_300', ['s%d' % i for i in range(300)], '300 memoized strs: LONG_BINPUT')
    g('list_2500', list(range(2500)), 'three APPENDS batches')
    g('dict_1200', {i: str(i) for i in range(1200)}, 'two SETITEMS batches')
    return G


# Several pickles in one payload, sharing one memo: (name, objs, description).
def golden_multi():
    s = 's'
    return [
        ('multi_shared_memo', (s, (s,)), "pickled('s', ('s',)): 2nd pickle BINGETs the 1st's memo"),
        ('multi_load_resource', (('mypkg', 'data.txt'), b'content'), 'LOAD_RESOURCE payload'),
    ]


def write_golden(path):
    lines = []
    for name, value, description in golden_values():
        data = mitogen_dumps(value)
        back = mitogen_loads(data, allow_sets=has_set(value))
        assert canon(back) == canon(value), name
        lines.append('%s\t%s\t%s' % (name, data.hex(), description))
    for name, objs, description in golden_multi():
        data = mitogen_dumps(*objs)
        assert [canon(x) for x in mitogen_loads_all(data)] == [canon(x) for x in objs], name
        lines.append('%s\t%s\t%s' % (name, data.hex(), description))
    with open(path, 'w') as f:
        f.write('# Generated by scripts/pickle_oracle.py golden (mitogen %s): name, hex, description.\n'
                % '.'.join(map(str, mitogen.__version__)))
        f.write('\n'.join(lines) + '\n')


# --------------------------------------------------------------------------
# Seeded random values.

ALPHABET = ['a', 'Z', '0', ' ', '\x00', '\n', '\xe9', '\xff', '\u0100', '\u0301', '\u20ac', '\uffff',
            '\U0001F600', '\U0010FFFF', "'", '"', '\\']


class Gen(object):
    def __init__(self, seed):
        self.r = random.Random(seed)

    def text(self):
        r = self.r
        n = r.choice([0, 1, 3, 8, 40])
        return ''.join(r.choice(ALPHABET) for _ in range(n))

    def int_(self):
        r = self.r
        kind = r.randrange(6)
        if kind == 0:
            return r.randrange(256)
        if kind == 1:
            return r.randrange(-2**31, 2**31)
        if kind == 2:
            return r.choice([0, 255, 256, 65535, 65536, -1, -2**31, 2**31 - 1, 2**31, 2**63 - 1,
                             -2**63, 2**63, -2**63 - 1, 2**64, -2**64])
        if kind == 3:
            return r.randrange(-2**64, 2**64)
        bits = r.choice([65, 100, 200, 1000, 2100])
        return r.randrange(-2**bits, 2**bits)

    def float_(self):
        r = self.r
        if r.random() < 0.4:
            return r.choice([0.0, -0.0, float('nan'), float('inf'), float('-inf'), 1e308, 5e-324, -5e-324,
                             2.2250738585072014e-308, 0.1])
        f = struct.unpack('>d', struct.pack('>Q', r.getrandbits(64)))[0]
        return float('nan') if f != f else f

    def bytes_(self):
        r = self.r
        n = r.choice([0, 1, 5, 255, 256, 1000])
        return bytes(r.getrandbits(8) for _ in range(n))

    def key(self, depth):
        r = self.r
        kind = r.randrange(4)
        if kind == 0:
            return self.text()
        if kind == 1:
            return self.int_()
        if kind == 2 and depth > 0:
            return tuple(self.key(depth - 1) for _ in range(r.randrange(4)))
        return self.text()

    def scalar(self):
        r = self.r
        kind = r.randrange(11)
        if kind == 0: return None
        if kind == 1: return r.random() < 0.5
        if kind in (2, 3): return self.int_()
        if kind == 4: return self.float_()
        if kind in (5, 6): return self.text()
        if kind == 7: return self.bytes_()
        if kind == 8: return core.Context(None, r.choice([0, 1, 2**32 - 1, r.randrange(2**32)]),
                                          r.choice([None, self.text()]))
        if kind == 9: return core.Sender(core.Context(None, r.randrange(2**32)), r.randrange(1, 2**32))
        return r.choice([core.CallError(self.text()), core.Blob(self.bytes_()), core.Secret(self.text())])

    def value(self, depth):
        r = self.r
        if depth <= 0 or r.random() < 0.35:
            return self.scalar()
        n = r.choice([0, 1, 2, 3, 4, 7])
        kind = r.randrange(8)
        if kind in (0, 1): return [self.value(depth - 1) for _ in range(n)]
        if kind in (2, 3): return tuple(self.value(depth - 1) for _ in range(n))
        if kind in (4, 5): return {self.key(2): self.value(depth - 1) for _ in range(n)}
        if kind == 6: return core.Kwargs({self.text(): self.value(depth - 1) for _ in range(n)})
        members = [r.choice([self.int_(), self.text()]) for _ in range(n)]
        return r.choice([set, frozenset])(members)

    def top(self):
        r = self.r
        roll = r.random()
        if roll < 0.03:
            # A deep chain, within the Swift default depth limit of 512.
            v = self.scalar()
            for _ in range(r.randrange(50, 300)):
                v = r.choice([[v], (v,), {'k': v}])
            return v
        if roll < 0.05:
            return [self.scalar() for _ in range(r.randrange(1000, 2600))]
        return self.value(r.choice([1, 2, 4, 6]))


# --------------------------------------------------------------------------
# The live protocol.

def serve():
    golden = dict((name, value) for name, value, _ in golden_values())
    multi = dict((name, objs) for name, objs, _ in golden_multi())
    last = []
    out = sys.stdout
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd, args = parts[0], parts[1:]
        try:
            if cmd == 'quit':
                break
            elif cmd == 'random':
                gen = Gen(int(args[0]))
                last = [gen.top() for _ in range(int(args[1]))]
                reply = '\n'.join(mitogen_dumps(v).hex() for v in last)
            elif cmd in ('verify', 'check'):
                data = bytes.fromhex(args[1])
                if cmd == 'check' and args[0] in multi:
                    expected = '|'.join(canon(x) for x in multi[args[0]])
                    got = '|'.join(canon(x) for x in mitogen_loads_all(data))
                else:
                    want = last[int(args[0])] if cmd == 'verify' else golden[args[0]]
                    expected = canon(want)
                    got = canon(mitogen_loads(data, allow_sets=has_set(want)))
                reply = 'ok' if got == expected else 'mismatch %s %s' % (expected, got)
            elif cmd == 'roundtrip':
                value = mitogen_loads(bytes.fromhex(args[0]), allow_sets=True)
                reply = 'ok ' + mitogen_dumps(value).hex()
            elif cmd == 'refuses':
                try:
                    value = mitogen_loads(bytes.fromhex(args[0]), allow_sets=True)
                    reply = 'accepted ' + canon(value)
                except Exception as e:
                    reply = 'refused ' + str(e)
            else:
                reply = 'error unknown command %r' % cmd
        except Exception as e:
            reply = 'error %s: %s' % (type(e).__name__, e)
        if cmd != 'random':
            reply = reply.replace('\n', '\\n')
        out.write(reply + '\n')
        out.flush()


def main():
    sys.setrecursionlimit(10000)
    # Mitogen logs every refused pickle at ERROR; the refusals are expected here.
    logging.getLogger('mitogen').setLevel(logging.CRITICAL)
    mode = sys.argv[1] if len(sys.argv) > 1 else ''
    if mode == 'golden':
        here = os.path.dirname(os.path.abspath(__file__))
        path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
            here, '..', 'Tests', 'MitogenLibTests', 'Fixtures', 'pickle-golden.txt')
        write_golden(path)
    elif mode == 'serve':
        serve()
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == '__main__':
    main()
