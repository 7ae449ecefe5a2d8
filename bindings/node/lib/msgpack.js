'use strict';
// JavaScript values to MessagePack bytes and back (docs/PROTOCOL.md §4).
//
//   JS (sent)                          MessagePack              JS (received)
//   null, undefined                    nil                      null
//   boolean                            bool                     boolean
//   number, integral (not -0)          int (shortest form)      number; BigInt beyond ±(2^53-1)
//   number, other; Float(x)            float 64                 number (or Float, preserveFloats)
//   bigint (i64 and u64 ranges)        int (shortest form)      as for int
//   string                             str                      string
//   Buffer, Uint8Array, ArrayBuffer    bin                      Buffer
//   Array                              array                    Array
//   Map                                map (any keys)           Map when a key is not a string
//   plain object                       map (string keys)        object when every key is a string
//   Ext                                extension                Ext
//
// A JS number has no integer/float distinction: 2.0 is sent as the integer 2 (wrap it,
// xproc.Float(2), to send a float). Float 32 from other languages decodes to a number.

const MAX_DEPTH = 100;
const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;

class Ext {
  constructor(type, data) {
    if (!Number.isInteger(type) || type < -128 || type > 127) throw new RangeError('an extension type is in -128..127');
    this.type = type;
    this.data = Buffer.from(data);
  }
}

/** A number to be sent (or, with preserveFloats, one that was received) as a float. */
class Float {
  constructor(value) { this.value = Number(value); }
  valueOf() { return this.value; }
}

function valueError(why) {
  const e = new TypeError(`xproc: ${why}`);
  e.code = 'XPROC_INVALID_VALUE';
  return e;
}

class Writer {
  constructor() { this.buf = Buffer.allocUnsafe(256); this.pos = 0; }
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
  u8(b) { this.ensure(1); this.buf[this.pos++] = b; }
  head(marker, n, size) {
    this.ensure(1 + size);
    this.buf[this.pos++] = marker;
    if (size === 1) this.buf[this.pos] = n;
    else if (size === 2) this.buf.writeUInt16BE(n, this.pos);
    else if (size === 4) this.buf.writeUInt32BE(n, this.pos);
    this.pos += size;
  }
  bytes(b) { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  length(n, fix, fixMax, m8, m16, m32) {
    if (fix && n <= fixMax) this.u8(fix | n);
    else if (m8 && n <= 0xff) this.head(m8, n, 1);
    else if (n <= 0xffff) this.head(m16, n, 2);
    else this.head(m32, n, 4);
  }
  float64(x) { this.ensure(9); this.buf[this.pos++] = 0xcb; this.buf.writeDoubleBE(x, this.pos); this.pos += 8; }
  int(n) { // a safe-integer number, shortest form
    if (n >= 0) {
      if (n <= 0x7f) this.u8(n);
      else if (n <= 0xff) this.head(0xcc, n, 1);
      else if (n <= 0xffff) this.head(0xcd, n, 2);
      else if (n <= 0xffffffff) this.head(0xce, n, 4);
      else this.big(BigInt(n));
    } else if (n >= -32) this.u8(n & 0xff);
    else if (n >= -128) this.head(0xd0, n & 0xff, 1);
    else if (n >= -32768) this.head(0xd1, n & 0xffff, 2);
    else if (n >= -2147483648) { this.ensure(5); this.buf[this.pos++] = 0xd2; this.buf.writeInt32BE(n, this.pos); this.pos += 4; }
    else this.big(BigInt(n));
  }
  big(n) {
    if (n < I64_MIN || n > U64_MAX) throw valueError(`${n} is outside MessagePack's integer range (i64 and u64)`);
    if (n >= -(2n ** 31n) && n < 2n ** 32n) return this.int(Number(n));
    this.ensure(9);
    if (n >= 0n) { this.buf[this.pos++] = 0xcf; this.buf.writeBigUInt64BE(n, this.pos); }
    else { this.buf[this.pos++] = 0xd3; this.buf.writeBigInt64BE(n, this.pos); }
    this.pos += 8;
  }
}

function write(w, v, depth) {
  switch (typeof v) {
    case 'undefined': w.u8(0xc0); return;
    case 'boolean': w.u8(v ? 0xc3 : 0xc2); return;
    case 'number':
      if (Object.is(v, -0)) w.float64(v);
      else if (Number.isSafeInteger(v)) w.int(v);
      else if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 64) w.big(BigInt(v));
      else w.float64(v);
      return;
    case 'bigint': w.big(v); return;
    case 'string': {
      const n = Buffer.byteLength(v);
      w.length(n, 0xa0, 31, 0xd9, 0xda, 0xdb);
      w.ensure(n);
      w.pos += w.buf.write(v, w.pos, 'utf8');
      return;
    }
    case 'object': break;
    default: throw valueError(`cannot encode a ${typeof v} as MessagePack`);
  }
  if (v === null) { w.u8(0xc0); return; }
  if (v instanceof Float) { w.float64(v.value); return; }
  if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
    const b = v instanceof ArrayBuffer ? new Uint8Array(v) : v;
    w.length(b.length, 0, 0, 0xc4, 0xc5, 0xc6);
    w.bytes(b);
    return;
  }
  if (v instanceof Ext) {
    const n = v.data.length;
    const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[n];
    if (fixed) w.u8(fixed); else w.length(n, 0, 0, 0xc7, 0xc8, 0xc9);
    w.u8(v.type & 0xff);
    w.bytes(v.data);
    return;
  }
  if (depth >= MAX_DEPTH) throw valueError(`arrays and maps nested deeper than ${MAX_DEPTH}`);
  if (Array.isArray(v)) {
    w.length(v.length, 0x90, 15, 0, 0xdc, 0xdd);
    for (const item of v) write(w, item, depth + 1);
    return;
  }
  if (v instanceof Map) {
    w.length(v.size, 0x80, 15, 0, 0xde, 0xdf);
    for (const [k, val] of v) { write(w, k, depth + 1); write(w, val, depth + 1); }
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(v);
    w.length(keys.length, 0x80, 15, 0, 0xde, 0xdf);
    for (const k of keys) { write(w, k, depth + 1); write(w, v[k], depth + 1); }
    return;
  }
  throw valueError(`cannot encode a ${v.constructor ? v.constructor.name : 'object'} as MessagePack`);
}

/** The MessagePack encoding of v, as a Buffer. */
function encode(v) {
  const w = new Writer();
  write(w, v, 0);
  return w.buf.subarray(0, w.pos);
}

class Reader {
  constructor(buf, opts) { this.buf = buf; this.pos = 0; this.preserveFloats = !!(opts && opts.preserveFloats); }
  need(n) { if (this.buf.length - this.pos < n) throw valueError('truncated MessagePack value'); }
  uint(size) {
    this.need(size);
    const b = this.buf; const p = this.pos; this.pos += size;
    if (size === 1) return b[p];
    if (size === 2) return b.readUInt16BE(p);
    if (size === 4) return b.readUInt32BE(p);
    return b.readBigUInt64BE(p);
  }
  num(n) { // a BigInt read as u64/i64 to a number when exact
    return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
  }
  float(x) { return this.preserveFloats ? new Float(x) : x; }
  value(depth) {
    if (depth > MAX_DEPTH) throw valueError(`arrays and maps nested deeper than ${MAX_DEPTH}`);
    this.need(1);
    const m = this.buf[this.pos++];
    if (m <= 0x7f) return m;
    if (m >= 0xe0) return m - 256;
    if ((m & 0xf0) === 0x80) return this.map(m & 0x0f, depth);
    if ((m & 0xf0) === 0x90) return this.array(m & 0x0f, depth);
    if ((m & 0xe0) === 0xa0) return this.str(m & 0x1f);
    switch (m) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: case 0xc5: case 0xc6: return this.bin(this.uint(1 << (m - 0xc4)));
      case 0xc7: case 0xc8: case 0xc9: return this.ext(this.uint(1 << (m - 0xc7)));
      case 0xca: { this.need(4); const x = this.buf.readFloatBE(this.pos); this.pos += 4; return this.float(x); }
      case 0xcb: { this.need(8); const x = this.buf.readDoubleBE(this.pos); this.pos += 8; return this.float(x); }
      case 0xcc: case 0xcd: case 0xce: return this.uint(1 << (m - 0xcc));
      case 0xcf: return this.num(this.uint(8));
      case 0xd0: { this.need(1); return this.buf.readInt8(this.pos++); }
      case 0xd1: { this.need(2); const x = this.buf.readInt16BE(this.pos); this.pos += 2; return x; }
      case 0xd2: { this.need(4); const x = this.buf.readInt32BE(this.pos); this.pos += 4; return x; }
      case 0xd3: { this.need(8); const x = this.buf.readBigInt64BE(this.pos); this.pos += 8; return this.num(x); }
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return this.ext(1 << (m - 0xd4));
      case 0xd9: case 0xda: case 0xdb: return this.str(this.uint(1 << (m - 0xd9)));
      case 0xdc: case 0xdd: return this.array(this.uint(2 << (m - 0xdc)), depth);
      case 0xde: case 0xdf: return this.map(this.uint(2 << (m - 0xde)), depth);
      default: throw valueError(`byte 0x${m.toString(16)} is not a MessagePack marker`);
    }
  }
  str(n) {
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    // toString replaces invalid UTF-8 with U+FFFD: refuse it rather than change the text.
    if (s.includes('\ufffd') && Buffer.byteLength(s) !== n) throw valueError('string is not valid UTF-8');
    this.pos += n;
    return s;
  }
  bin(n) { this.need(n); const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n)); this.pos += n; return b; }
  ext(n) { this.need(1); const type = this.buf.readInt8(this.pos++); return new Ext(type, this.bin(n)); }
  array(n, depth) {
    this.need(n); // every element takes a byte: a hostile count cannot allocate
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }
  map(n, depth) {
    this.need(2 * n);
    const keys = new Array(n); const vals = new Array(n);
    let strings = true;
    for (let i = 0; i < n; i++) {
      keys[i] = this.value(depth + 1);
      vals[i] = this.value(depth + 1);
      if (typeof keys[i] !== 'string') strings = false;
    }
    if (strings) {
      const o = {};
      for (let i = 0; i < n; i++) Object.defineProperty(o, keys[i], { value: vals[i], enumerable: true, writable: true, configurable: true });
      return o;
    }
    const m = new Map();
    for (let i = 0; i < n; i++) m.set(keys[i], vals[i]);
    return m;
  }
}

/** Decodes exactly one MessagePack value from buf. opts.preserveFloats: floats as Float. */
function decode(buf, opts) {
  const r = new Reader(buf, opts);
  const v = r.value(0);
  if (r.pos !== buf.length) throw valueError(`${buf.length - r.pos} bytes after the value`);
  return v;
}

module.exports = { encode, decode, Ext, Float, MAX_DEPTH };
