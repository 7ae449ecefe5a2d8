'use strict';
// The Node.js peer of the cross-language matrix (tests/cross-language/README.md).
//
//   node peer.js <send|recv> <queue|pipe|dict> <object-name>     (broker: $XPROC_SOCKET)
//
// The sender puts every value case on the object through the Node binding (bindings/node);
// the receiver takes each and checks it against its own copy, built here natively. Objects
// are opened with {preserveFloats: true}, so that a float (xproc.Float) is never taken for an
// integer (number or BigInt); a BigInt must come back for integers beyond 2^53 and a number
// below; strings never Buffers; NaN matches NaN, zeros agree on the sign bit; maps compare as
// sets of entries (string-keyed ones as objects, others as Maps). Each step prints
// `ok <step>` or `FAIL <step>: ...`; exit status 1 if any failed.

const path = require('node:path');
const xproc = require(process.env.XPROC_NODE_BINDING || path.resolve(__dirname, '../../../bindings/node'));
const { Float } = xproc;

const RECV_TIMEOUT = 30000;
const SEND_TIMEOUT = 30000;
const DICT_INT_KEY = 42;
const DICT_INT_VALUE = 'answer';

function mib(n = 1 << 20) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < b.length; i++) b[i] = i % 251;
  return b;
}

// Floats are written as Float so that the sender sends float 64 and the receiver, which
// decodes with preserveFloats, compares like with like.
const f = (x) => new Float(x);
const CASES = [
  ['nil', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['minus_one', -1],
  ['i64_min', -(2n ** 63n)],
  ['i64_max', 2n ** 63n - 1n],
  ['u64_max', 2n ** 64n - 1n],
  ['two_pow_53_plus_1', 2n ** 53n + 1n],
  ['float_1_5', f(1.5)],
  ['nan', f(NaN)],
  ['pos_inf', f(Infinity)],
  ['neg_inf', f(-Infinity)],
  ['neg_zero', f(-0)],
  ['empty_string', ''],
  ['unicode_string', 'héllo wörld ✓ 日本 🦀'],
  ['empty_bytes', Buffer.alloc(0)],
  ['bytes_with_zeros', Buffer.from([0, 1, 0, 0, 0xff, 0])],
  ['nested_array', [1, [2, [3, []]], [], [['deep']]]],
  ['nested_map', { name: 'matrix', inner: { list: [1, 2, 3], deep: { x: -1, empty: {} } }, empty_list: [] }],
  ['int_key_map', new Map([[1, 'one'], [-2, 'minus two']])],
  ['mixed_array', [1, 'two', f(3.25), true, null, Buffer.from([0, 0xff]), { k: 'v' }, [-5]]],
  ['bytes_1mib', mib()],
  // 16 MiB: a sealed memfd between clients on the local socket (PROTOCOL.md §4.1).
  ['bytes_16mib', mib(16 << 20)],
];

function kind(v) {
  if (v === null || v === undefined) return 'nil';
  if (v instanceof Float) return 'float';
  if (Buffer.isBuffer(v)) return 'bytes';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? 'int' : 'unsafe-number';
  if (typeof v === 'object') return 'object';
  return typeof v; // boolean, bigint, string
}

function describe(v) {
  const k = kind(v);
  if (k === 'nil') return 'nil';
  if (k === 'float') return `float ${Object.is(v.value, -0) ? '-0' : v.value}`;
  if (k === 'bytes') return `bytes [${v.subarray(0, 16).toString('hex')}]${v.length > 16 ? `... (${v.length} bytes)` : ''}`;
  if (k === 'array') return `[${v.map(describe).join(', ')}]`;
  if (k === 'map') return `Map{${[...v].map(([a, b]) => `${describe(a)}: ${describe(b)}`).join(', ')}}`;
  if (k === 'object') return `{${Object.entries(v).map(([a, b]) => `${a}: ${describe(b)}`).join(', ')}}`;
  if (k === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${k} ${String(v)}`;
}

function difference(expected, got, at = '') {
  const where = at ? `at ${at}: ` : '';
  const mismatch = `${where}expected ${describe(expected)}, got ${describe(got)}`;
  const k = kind(expected);
  if (kind(got) !== k) return mismatch;
  switch (k) {
    case 'float':
      if (Number.isNaN(expected.value)) return Number.isNaN(got.value) ? null : mismatch;
      return Object.is(expected.value, got.value) ? null : mismatch;
    case 'bytes': {
      if (expected.length !== got.length) return `${where}expected ${expected.length} bytes, got ${got.length} bytes`;
      const i = expected.findIndex((b, j) => b !== got[j]);
      return i < 0 ? null : `${where}expected byte ${i} = 0x${expected[i].toString(16)}, got 0x${got[i].toString(16)}`;
    }
    case 'array':
      if (expected.length !== got.length) return mismatch;
      for (let i = 0; i < expected.length; i++) {
        const why = difference(expected[i], got[i], `${at}[${i}]`);
        if (why) return why;
      }
      return null;
    case 'map': {
      if (expected.size !== got.size) return mismatch;
      for (const [ek, ev] of expected) {
        const match = [...got.keys()].find((gk) => difference(ek, gk) === null);
        if (match === undefined) return `${where}expected a key ${describe(ek)}, got ${describe(got)}`;
        const why = difference(ev, got.get(match), `${at}[${describe(ek)}]`);
        if (why) return why;
      }
      return null;
    }
    case 'object': {
      const ek = Object.keys(expected); const gk = Object.keys(got);
      if (ek.length !== gk.length) return mismatch;
      for (const key of ek) {
        if (!Object.prototype.hasOwnProperty.call(got, key)) return `${where}expected a key ${key}, got ${describe(got)}`;
        const why = difference(expected[key], got[key], `${at}[${key}]`);
        if (why) return why;
      }
      return null;
    }
    default:
      return expected === got ? null : mismatch;
  }
}

let failures = 0;
const ok = (step) => console.log(`ok ${step}`);
const fail = (step, why) => { failures++; console.log(`FAIL ${step}: ${why}`); };

async function check(step, expected, receive) {
  let got;
  try {
    got = await receive();
  } catch (e) {
    fail(step, `expected ${describe(expected)}, got ${e.name}: ${e.message}`);
    return false;
  }
  const why = difference(expected, got);
  if (why) fail(step, why); else ok(step);
  return true;
}

async function sent(step, send) {
  try {
    await send();
  } catch (e) {
    fail(step, `send failed: ${e.name}: ${e.message}`);
    return false;
  }
  ok(step);
  return true;
}

const OPEN = { preserveFloats: true };

async function send(c, scenario, name) {
  if (scenario === 'queue') {
    const q = c.queue(name, OPEN);
    for (const [step, v] of CASES) if (!(await sent(step, () => q.put(v, { timeout: SEND_TIMEOUT })))) return;
  } else if (scenario === 'pipe') {
    const p = c.pipe(name, 'a', OPEN);
    for (const [step, v] of CASES) if (!(await sent(step, () => p.send(v, { timeout: SEND_TIMEOUT })))) return;
    await sent('end', () => p.close());
  } else {
    const d = c.dict(name, OPEN);
    for (const [step, v] of CASES) if (!(await sent(step, () => d.set(step, v)))) return;
    if (await sent('dict_int_key', () => d.set(DICT_INT_KEY, DICT_INT_VALUE))) {
      await sent('end', () => c.event(`${name}.done`).set());
    }
  }
}

async function recv(c, scenario, name) {
  if (scenario === 'queue') {
    const q = c.queue(name, OPEN);
    for (const [step, v] of CASES) if (!(await check(step, v, () => q.get({ timeout: RECV_TIMEOUT })))) return;
    try {
      const extra = await q.getNowait();
      fail('end', `expected an empty queue, got ${describe(extra)}`);
    } catch (e) {
      if (e.code === 'XPROC_EMPTY') ok('end'); else fail('end', `expected an empty queue, got ${e.message}`);
    }
  } else if (scenario === 'pipe') {
    const p = c.pipe(name, 'b', OPEN);
    for (const [step, v] of CASES) if (!(await check(step, v, () => p.recv({ timeout: RECV_TIMEOUT })))) return;
    try {
      const extra = await p.recv({ timeout: RECV_TIMEOUT });
      fail('end', `expected end of file, got ${describe(extra)}`);
    } catch (e) {
      if (e.code === 'XPROC_CLOSED') ok('end'); else fail('end', `expected end of file (XPROC_CLOSED), got ${e.message}`);
    }
  } else {
    if (!(await c.event(`${name}.done`).wait({ timeout: RECV_TIMEOUT }))) {
      fail('done', "the sender's done event was not set in time");
      return;
    }
    const d = c.dict(name, OPEN);
    for (const [step, v] of CASES) {
      await check(step, v, async () => {
        const got = await d.get(step);
        if (got === undefined) throw new Error('no such key');
        return got;
      });
    }
    await check('dict_int_key', DICT_INT_VALUE, () => d.get(DICT_INT_KEY));
    const want = CASES.length + 1;
    const n = await d.size();
    if (n === want) ok('end'); else fail('end', `expected ${want} entries, got ${n}`);
  }
}

async function main(argv) {
  const [role, scenario, name] = argv;
  if (argv.length !== 3 || !['send', 'recv'].includes(role) || !['queue', 'pipe', 'dict'].includes(scenario)) {
    console.error('usage: peer.js <send|recv> <queue|pipe|dict> <object-name>');
    return 2;
  }
  let c;
  try {
    c = await xproc.connect();
  } catch (e) {
    fail('connect', `${e.name}: ${e.message}`);
    return 1;
  }
  try {
    await (role === 'send' ? send : recv)(c, scenario, name);
  } catch (e) {
    fail('open', `${e.name}: ${e.message}`);
  }
  c.close();
  return failures ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
