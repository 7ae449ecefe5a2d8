'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { encode, decode, Ext, Float } = require('..');

test('integers take their shortest form', () => {
  assert.equal(encode(1).toString('hex'), '01');
  assert.equal(encode(1n).toString('hex'), '01');
  assert.equal(encode(-1).toString('hex'), 'ff');
  assert.equal(encode(-33).toString('hex'), 'd0df');
  assert.equal(encode(200).toString('hex'), 'ccc8');
  assert.equal(encode(2n ** 64n - 1n).toString('hex'), 'cfffffffffffffffff');
  assert.equal(encode(-(2n ** 63n)).toString('hex'), 'd38000000000000000');
  assert.equal(encode(new Float(2)).toString('hex'), 'cb4000000000000000');
  assert.equal(encode(-0).toString('hex'), 'cb8000000000000000');
});

test('round trips', () => {
  const cases = [null, true, false, 0, -1, 2 ** 31, 2 ** 53 - 1, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 64n - 1n,
    1.5, Infinity, '', 'héllo ✓ 🦀', Buffer.from([0, 1, 0]), [1, [2, []]], { a: 1, b: { c: [] } },
    new Map([[1, 'one'], [-2, 'minus two']]), new Ext(-1, Buffer.from([0, 0, 0, 1]))];
  for (const c of cases) assert.deepEqual(decode(encode(c)), c);
  assert.ok(Number.isNaN(decode(encode(NaN))));
  assert.ok(Object.is(decode(encode(-0)), -0));
  assert.equal(typeof decode(encode(2n ** 53n)), 'bigint');
  assert.equal(typeof decode(encode(2 ** 53 - 1)), 'number');
  assert.ok(decode(encode(new Float(0)), { preserveFloats: true }) instanceof Float);
  const big = Buffer.alloc(70000, 7);
  assert.deepEqual(decode(encode(big)), big);
  assert.deepEqual(decode(encode(new Uint8Array([5]))), Buffer.from([5]));
  // A __proto__ key stays data, never a prototype.
  const o = decode(Buffer.from('81a95f5f70726f746f5f5f01', 'hex'));
  assert.equal(Object.getPrototypeOf(o), Object.prototype);
  assert.equal(Object.keys(o)[0], '__proto__');
});

test('bad values are refused', () => {
  for (const bad of [Symbol('s'), () => 1, 2n ** 64n, -(2n ** 63n) - 1n, new Date()]) {
    assert.throws(() => encode(bad), { code: 'XPROC_INVALID_VALUE' });
  }
  let deep = [];
  for (let i = 0; i <= 100; i++) deep = [deep];
  assert.throws(() => encode(deep), { code: 'XPROC_INVALID_VALUE' });
  for (const hex of ['', 'c1', '9201', '0102', 'ddffffffff', 'a1ff']) {
    assert.throws(() => decode(Buffer.from(hex, 'hex')), { code: 'XPROC_INVALID_VALUE' }, hex);
  }
});
