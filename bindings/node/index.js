'use strict';
// xproc for Node.js: queues, pipes, dicts and locks shared by processes in any language,
// through an xprocd broker. A thin layer over libxproc (client-c/include/xproc.h), called with
// koffi; values are MessagePack, encoded here (lib/msgpack.js).
//
// Every method returns a Promise. A call that may wait at the broker (a get, a put on a
// bounded queue, an acquire, ...) first tries once without waiting, on the main thread (one
// round trip, ~20 µs); only if it would have to wait does it go to a worker thread of
// libuv's pool (koffi's async calls), so the event loop never blocks on a wait. Calls that
// the broker answers at once (dict operations, release, set, ...) are one synchronous round
// trip. A waiting call holds one pool thread (UV_THREADPOOL_SIZE, 4 by default, is the limit
// on calls waiting at once; fs and dns share the pool).

const native = require('./lib/native');
const { encode, decode, Ext, Float } = require('./lib/msgpack');
const { koffi } = native;

let N = null; // the loaded functions
function lib() { return N || (N = native.load()); }

const STATUS = [
  'XPROC_OK', 'XPROC_NO_BROKER', 'XPROC_TIMEOUT', 'XPROC_EMPTY', 'XPROC_FULL', 'XPROC_TYPE_MISMATCH',
  'XPROC_CLOSED', 'XPROC_DISCONNECTED', 'XPROC_LIMIT', 'XPROC_KEY_NOT_FOUND', 'XPROC_NOT_OWNER',
  'XPROC_BUSY', 'XPROC_BROKEN_BARRIER', 'XPROC_INVALID_ARGUMENT', 'XPROC_NULL_ARGUMENT',
  'XPROC_SHUTTING_DOWN', 'XPROC_NOT_FOUND', 'XPROC_OPTION_MISMATCH', 'XPROC_INVALID_NAME',
  'XPROC_INVALID_VALUE', 'XPROC_WRONG_TYPE', 'XPROC_OUT_OF_RANGE', 'XPROC_BROKER_ERROR',
  'XPROC_PROTOCOL_ERROR', 'XPROC_PANIC', 'XPROC_UNKNOWN_DELIVERY', 'XPROC_DENIED', 'XPROC_INTERRUPTED',
];
const S = Object.fromEntries(STATUS.map((name, i) => [name.slice(6), i]));

/** A failed call: err.code is the status name ('XPROC_TIMEOUT', ...), err.op and err.object say where. */
class XprocError extends Error {
  constructor(status, op, object, message) {
    const code = STATUS[status] || 'XPROC_UNKNOWN_STATUS';
    super(`xproc: ${op}${object ? ` "${object}"` : ''}: ${code}${message ? `: ${message}` : ''}`);
    this.name = 'XprocError';
    this.code = code;
    this.status = status;
    this.op = op;
    this.object = object;
  }
}

/** Throws for a failed status of a synchronous call (its message is this thread's last error). */
function check(st, op, object) {
  if (st !== 0) throw new XprocError(st, op, object, lib().last_error());
}

/** The error of a failed asynchronous call: libxproc's message stayed on the worker thread. */
function asyncError(st, op, object) {
  return new XprocError(st, op, object, '');
}

// Copies a buffer libxproc returned, then frees it.
function take(ptr, len) {
  const out = Buffer.from(new Uint8Array(koffi.view(ptr, len)));
  lib().bytes_free(ptr, len);
  return out;
}

function callAsync(fn, args) {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err, st) => (err ? reject(err) : resolve(st)));
  });
}

// The longest one request waits at the broker when an AbortSignal may end the wait: the ABI
// cannot end a call a worker thread is blocked in, so an abortable wait is a series of
// bounded requests (each ended by the broker, taking nothing) with the signal checked between.
const ABORT_CHECK_MS = 100;

/**
 * Runs a call that may wait: `call.fn(...call.args(ptr, ms))` makes one request waiting at
 * most ms (-1: no limit) and returns its status; `call.done()` tells whether it completed. It tries with ms = 0 on
 * this thread first, then waits on a worker thread. Resolves with true when the call
 * completed, false when `timeout` passed (or a "would block" outcome), rejects on failure or
 * abort.
 */
async function blocking(h, op, opts, call, waitStatus) {
  const timeout = opts && opts.timeout != null ? Math.max(0, Math.ceil(opts.timeout)) : -1;
  const signal = opts && opts.signal;
  if (signal) signal.throwIfAborted();
  const ptr = h.use(op);
  try {
    let st = call.fn(...call.args(ptr, 0));
    if (st === 0 && call.done()) return true;
    if (st !== 0 && !waitStatus.includes(st)) check(st, `${h.kind}.${op}`, h.name);
    if (timeout === 0) return false;
    const deadline = timeout < 0 ? Infinity : Date.now() + timeout;
    for (;;) {
      let ms = timeout < 0 ? -1 : Math.max(0, deadline - Date.now());
      if (signal && (ms < 0 || ms > ABORT_CHECK_MS)) ms = ABORT_CHECK_MS;
      st = await callAsync(call.fn, call.args(ptr, ms));
      if (st === 0 && call.done()) return true;
      if (st !== 0 && !waitStatus.includes(st)) throw asyncError(st, `${h.kind}.${op}`, h.name);
      if (signal && signal.aborted) throw signal.reason;
      if (Date.now() >= deadline) return false;
    }
  } finally {
    h.release();
  }
}

const WAITS = [S.TIMEOUT, S.EMPTY, S.FULL];

const registry = new FinalizationRegistry(({ free, ptr }) => free(ptr));

/** Owns one libxproc handle; freed by close() once no call uses it (or when collected). */
class Handle {
  constructor(ptr, free, kind, name) {
    this.ptr = ptr;
    this.freeFn = free;
    this.kind = kind;
    this.name = name;
    this.pending = 0;
    this.closed = false;
    registry.register(this, { free, ptr }, this);
  }
  use(op) {
    if (this.closed) throw new XprocError(S.INVALID_ARGUMENT, `${this.kind}.${op}`, this.name, 'this handle was closed');
    this.pending++;
    return this.ptr;
  }
  release() {
    if (--this.pending === 0 && this.closed) this.free();
  }
  sync(op, f) {
    const ptr = this.use(op);
    try { return f(ptr); } finally { this.release(); }
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    registry.unregister(this);
    if (this.pending === 0) this.free();
  }
  free() {
    if (this.ptr) { this.freeFn(this.ptr); this.ptr = null; }
  }
}

class Obj {
  constructor(h) { this._h = h; }
  get name() { return this._h.name; }
  /** Frees this handle (the object stays in the broker), once calls in progress end. */
  close() { this._h.close(); }
  _check(st, op) { check(st, `${this._h.kind}.${op}`, this._h.name); }
}

function ms(opts) { return opts && opts.timeout != null ? opts.timeout : undefined; }

class Queue extends Obj {
  /** Appends v, waiting while a bounded queue is full ({timeout} ms: then XPROC_TIMEOUT). */
  async put(v, opts) {
    const data = encode(v);
    const ok = await blocking(this._h, 'put', opts, {
      fn: lib().queue_put_raw, args: (p, t) => [p, data, data.length, t], done: () => true,
    }, WAITS);
    if (!ok) throw new XprocError(ms(opts) === 0 ? S.FULL : S.TIMEOUT, 'queue.put', this.name, '');
  }
  /** Appends v if there is room now, else rejects with XPROC_FULL. */
  putNowait(v) { return this.put(v, { timeout: 0 }); }
  _getter(leaseMs) {
    const out = [null]; const len = [0]; const id = [0]; const attempt = [0];
    const f = lib();
    return {
      fn: leaseMs === undefined ? f.queue_get_raw : f.queue_get_leased_raw,
      args: leaseMs === undefined ? (p, t) => [p, t, out, len]
        : (p, t) => [p, t, leaseMs, out, len, id, attempt],
      done: () => true,
      value: () => decode(take(out[0], len[0]), this._decodeOpts),
      id, attempt,
    };
  }
  /** Removes and returns the head, waiting for one ({timeout} ms: then XPROC_TIMEOUT; {signal}). */
  async get(opts) {
    const g = this._getter(undefined);
    if (!(await blocking(this._h, 'get', opts, g, WAITS))) {
      throw new XprocError(ms(opts) === 0 ? S.EMPTY : S.TIMEOUT, 'queue.get', this.name, '');
    }
    return g.value();
  }
  /** Removes and returns the head if there is one now, else rejects with XPROC_EMPTY. */
  getNowait() { return this.get({ timeout: 0 }); }
  /** The queue's counts in one round trip: {len, maxsize, unfinished}. */
  async size() {
    const out = [{}];
    this._h.sync('size', (p) => this._check(lib().queue_size(p, out), 'size'));
    return { len: Number(out[0].len), maxsize: Number(out[0].maxsize), unfinished: Number(out[0].unfinished) };
  }
  /** How many items the queue holds (Python's qsize). */
  async qsize() { return (await this.size()).len; }
  /**
   * Takes the head under a lease ({lease} ms; the broker's default if absent), waiting like
   * get. Resolves to {value, id, attempt, ack(), nack(delayMs)}.
   */
  async getLeased(opts) {
    const lease = opts && opts.lease != null ? Math.max(1, Math.ceil(opts.lease)) : -1;
    const g = this._getter(lease);
    if (!(await blocking(this._h, 'get_leased', opts, g, WAITS))) {
      throw new XprocError(ms(opts) === 0 ? S.EMPTY : S.TIMEOUT, 'queue.get_leased', this.name, '');
    }
    const id = g.id[0];
    return {
      value: g.value(), id, attempt: g.attempt[0],
      ack: async () => this._h.sync('ack', (p) => this._check(lib().queue_ack(p, id), 'ack')),
      nack: async (delayMs = 0) => this._h.sync('nack', (p) => this._check(lib().queue_nack(p, id, delayMs), 'nack')),
    };
  }
}

class JoinableQueue extends Queue {
  /** Marks one taken item as processed (XPROC_INVALID_ARGUMENT when called too often). */
  async taskDone() { this._h.sync('task_done', (p) => this._check(lib().queue_task_done(p), 'task_done')); }
  /** Waits until every item put has been marked done ({timeout}: then XPROC_TIMEOUT). */
  async join(opts) {
    const ok = await blocking(this._h, 'join', opts, {
      fn: lib().queue_join, args: (p, t) => [p, t], done: () => true,
    }, WAITS);
    if (!ok) throw new XprocError(S.TIMEOUT, 'queue.join', this.name, '');
  }
}

class Dict extends Obj {
  _fetch(op, args, call) {
    const enc = args.map(encode);
    const out = [null]; const len = [0];
    return this._h.sync(op, (p) => {
      const st = call(p, enc, out, len);
      if (st === S.KEY_NOT_FOUND) return undefined;
      this._check(st, op);
      return decode(take(out[0], len[0]), this._decodeOpts);
    });
  }
  /** The value under key, or `undefined` if there is none (a stored nil is `null`). */
  async get(key) {
    return this._fetch('get', [key], (p, [k], out, len) => lib().dict_get_raw(p, k, k.length, out, len));
  }
  async set(key, value) {
    const k = encode(key); const v = encode(value);
    this._h.sync('set', (p) => this._check(lib().dict_set_raw(p, k, k.length, v, v.length), 'set'));
  }
  /** Removes key; false if there was none. */
  async delete(key) {
    const k = encode(key);
    return this._h.sync('delete', (p) => {
      const st = lib().dict_delete_raw(p, k, k.length);
      if (st === S.KEY_NOT_FOUND) return false;
      this._check(st, 'delete');
      return true;
    });
  }
  async has(key) {
    const k = encode(key); const out = [false];
    this._h.sync('contains', (p) => this._check(lib().dict_contains_raw(p, k, k.length, out), 'contains'));
    return !!out[0];
  }
  async size() {
    const out = [0];
    this._h.sync('len', (p) => this._check(lib().dict_len(p, out), 'len'));
    return Number(out[0]);
  }
  async keys() { return this._fetch('keys', [], (p, _, out, len) => lib().dict_keys_raw(p, out, len)); }
  async values() { return this._fetch('values', [], (p, _, out, len) => lib().dict_values_raw(p, out, len)); }
  /** A snapshot of the entries, in insertion order: [[key, value], ...]. */
  async entries() { return this._fetch('items', [], (p, _, out, len) => lib().dict_items_raw(p, out, len)); }
  /** Sets every entry of a Map, object or [[k, v], ...]. */
  async update(entries) {
    const list = entries instanceof Map || Array.isArray(entries) ? [...entries] : Object.entries(entries);
    for (const [k, v] of list) await this.set(k, v);
  }
  /** Removes key and returns its value (`undefined` if absent). */
  async pop(key) {
    return this._fetch('pop', [key], (p, [k], out, len) => lib().dict_pop_raw(p, k, k.length, out, len));
  }
  /** Python's setdefault: the value under key, first set to def if absent (atomic). */
  async setDefault(key, def) {
    return this._fetch('setdefault', [key, def], (p, [k, v], out, len) => lib().dict_setdefault_raw(p, k, k.length, v, v.length, out, len));
  }
  async clear() { this._h.sync('clear', (p) => this._check(lib().dict_clear(p), 'clear')); }
  /** Atomically adds delta to the integer under key (absent: 0); resolves to the new value. */
  async incr(key, delta = 1) {
    const k = encode(key); const out = [0];
    this._h.sync('incr', (p) => this._check(lib().dict_incr_raw(p, k, k.length, delta, out), 'incr'));
    return out[0];
  }
  /** Atomically sets key to value if it holds expected (as encoded bytes); whether it did. */
  async compareAndSet(key, expected, value) {
    const k = encode(key); const e = encode(expected); const v = encode(value); const out = [false];
    this._h.sync('compare_and_set', (p) => this._check(lib().dict_compare_and_set_raw(p, k, k.length, e, e.length, v, v.length, out), 'compare_and_set'));
    return !!out[0];
  }
  /** Atomically sets key to value only if absent; whether it did. */
  async setIfAbsent(key, value) {
    const k = encode(key); const v = encode(value); const out = [false];
    this._h.sync('compare_and_set', (p) => this._check(lib().dict_compare_and_set_raw(p, k, k.length, null, 0, v, v.length, out), 'compare_and_set'));
    return !!out[0];
  }
}

class Pipe extends Obj {
  /** Sends v, waiting while the other end's inbox is full ({timeout}, {signal}). */
  async send(v, opts) {
    const data = encode(v);
    const ok = await blocking(this._h, 'send', opts, {
      fn: lib().pipe_send_raw, args: (p, t) => [p, data, data.length, t], done: () => true,
    }, WAITS);
    if (!ok) throw new XprocError(ms(opts) === 0 ? S.FULL : S.TIMEOUT, 'pipe.send', this.name, '');
  }
  /** Receives the next message ({timeout}, {signal}); at end of file rejects with XPROC_CLOSED. */
  async recv(opts) {
    const out = [null]; const len = [0];
    const ok = await blocking(this._h, 'recv', opts, {
      fn: lib().pipe_recv_raw, args: (p, t) => [p, t, out, len], done: () => true,
    }, WAITS);
    if (!ok) throw new XprocError(ms(opts) === 0 ? S.EMPTY : S.TIMEOUT, 'pipe.recv', this.name, '');
    return decode(take(out[0], len[0]), this._decodeOpts);
  }
  /** Whether a message (or end of file) is ready, waiting up to {timeout} ms (default 0). */
  async poll(opts) {
    const ready = [false];
    return blocking(this._h, 'poll', { timeout: 0, ...opts }, {
      fn: lib().pipe_poll, args: (p, t) => [p, t, ready], done: () => !!ready[0],
    }, WAITS);
  }
  /** Closes this end (the other end reads what is left, then end of file) and frees it. */
  close() {
    if (!this._h.closed) this._h.sync('close', (p) => this._check(lib().pipe_close(p), 'close'));
    this._h.close();
  }
}

function acquirer(h, fn, abandoned) {
  const acquired = [false]; const by = [0];
  return {
    fn, args: (p, t) => (abandoned ? [p, t, acquired, by] : [p, t, acquired]),
    done: () => !!acquired[0], by,
  };
}

class Lock extends Obj {
  /** Takes the lock; resolves true, or false when {timeout} ms passed first. */
  async acquire(opts) {
    const a = acquirer(this._h, lib().lock_acquire, true);
    const ok = await blocking(this._h, 'acquire', opts, a, WAITS);
    if (ok) this.abandonedBy = a.by[0] || null;
    return ok;
  }
  async release() {
    this._h.sync('release', (p) => this._check(lib().lock_release(p), 'release'));
  }
  /** Runs fn with the lock held and releases it after, even if fn throws. */
  async withLock(fn, opts) {
    if (!(await this.acquire(opts))) throw new XprocError(S.TIMEOUT, `${this._h.kind}.acquire`, this.name, '');
    try { return await fn(); } finally { await this.release(); }
  }
}

class Semaphore extends Obj {
  /** Takes one permit; resolves true, or false when {timeout} ms passed first. */
  acquire(opts) { return blocking(this._h, 'acquire', opts, acquirer(this._h, lib().semaphore_acquire, false), WAITS); }
  async release(n = 1) { this._h.sync('release', (p) => this._check(lib().semaphore_release(p, n), 'release')); }
}

class Event extends Obj {
  async set() { this._h.sync('set', (p) => this._check(lib().event_set(p), 'set')); }
  async clear() { this._h.sync('clear', (p) => this._check(lib().event_clear(p), 'clear')); }
  async isSet() {
    const out = [false];
    this._h.sync('is_set', (p) => this._check(lib().event_is_set(p, out), 'is_set'));
    return !!out[0];
  }
  /** Waits for the event; resolves true once set, false when {timeout} ms passed first. */
  wait(opts) {
    const set = [false];
    return blocking(this._h, 'wait', opts, {
      fn: lib().event_wait, args: (p, t) => [p, t, set], done: () => !!set[0],
    }, WAITS);
  }
}

class Condition extends Obj {
  acquire(opts) { return blocking(this._h, 'acquire', opts, acquirer(this._h, lib().condition_acquire, true), WAITS); }
  async release() { this._h.sync('release', (p) => this._check(lib().condition_release(p), 'release')); }
  /**
   * Releases the lock, waits for a notify, takes the lock again; resolves true if notified,
   * false when {timeout} ms passed first. One request on a worker thread ({signal} is not
   * supported: a bounded wait could miss a notify).
   */
  async wait(opts) {
    const timeout = opts && opts.timeout != null ? Math.max(0, Math.ceil(opts.timeout)) : -1;
    const notified = [false];
    const ptr = this._h.use('wait');
    try {
      const st = await callAsync(lib().condition_wait, [ptr, timeout, notified]);
      if (st !== 0) throw asyncError(st, 'condition.wait', this.name);
      return !!notified[0];
    } finally {
      this._h.release();
    }
  }
  /** Waits until pred() is truthy, checking it first and after each wakeup ({timeout} overall). */
  async waitFor(pred, opts) {
    const deadline = opts && opts.timeout != null ? Date.now() + opts.timeout : Infinity;
    for (;;) {
      if (await pred()) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.wait({ timeout: left === Infinity ? undefined : left });
    }
  }
  async notify(n = 1) {
    const out = [0];
    this._h.sync('notify', (p) => this._check(lib().condition_notify(p, n, out), 'notify'));
    return Number(out[0]);
  }
  async notifyAll() {
    const out = [0];
    this._h.sync('notify_all', (p) => this._check(lib().condition_notify_all(p, out), 'notify_all'));
    return Number(out[0]);
  }
}

class Barrier extends Obj {
  /**
   * Waits until every party has arrived; resolves to this party's index. A {timeout} breaks
   * the barrier (as in Python): every waiter rejects with XPROC_BROKEN_BARRIER.
   */
  async wait(opts) {
    const timeout = opts && opts.timeout != null ? Math.max(0, Math.ceil(opts.timeout)) : -1;
    const index = [0];
    const ptr = this._h.use('wait');
    try {
      const st = await callAsync(lib().barrier_wait, [ptr, timeout, index]);
      if (st !== 0) throw asyncError(st, 'barrier.wait', this.name);
      return Number(index[0]);
    } finally {
      this._h.release();
    }
  }
  async abort() { this._h.sync('abort', (p) => this._check(lib().barrier_abort(p), 'abort')); }
  async reset() { this._h.sync('reset', (p) => this._check(lib().barrier_reset(p), 'reset')); }
  /** {parties, nWaiting, broken} in one round trip. */
  async state() {
    const out = [{}];
    this._h.sync('state', (p) => this._check(lib().barrier_state(p, out), 'state'));
    return { parties: Number(out[0].parties), nWaiting: Number(out[0].n_waiting), broken: !!out[0].broken };
  }
}

function opener(client, kind, name, open, Cls, free, opts) {
  const out = [null];
  client._h.sync('open', (p) => check(open(p, name, Buffer.byteLength(name), out), `${kind}.open`, name));
  const obj = new Cls(new Handle(out[0], free, kind, name));
  // {preserveFloats: true}: received floats come back as Float, so that 0.0 is not 0.
  obj._decodeOpts = opts && opts.preserveFloats ? { preserveFloats: true } : undefined;
  return obj;
}

/** One connection to a broker; the factory of every shared object on it. */
class Client extends Obj {
  /** One round trip. */
  async ping() { this._h.sync('ping', (p) => check(lib().client_ping(p), 'ping', '')); }
  /** The id the broker gave this connection. */
  async connId() {
    const out = [0];
    this._h.sync('conn_id', (p) => check(lib().client_conn_id(p, out), 'conn_id', ''));
    return Number(out[0]);
  }
  /** Deletes the object called name; false if there was none. */
  async delete(name) {
    const out = [false];
    this._h.sync('delete', (p) => check(lib().client_delete(p, name, Buffer.byteLength(name), out), 'delete', name));
    return !!out[0];
  }
  /** Opens the queue called name ({maxsize}: 0 unbounded; {maxAttempts}). */
  queue(name, opts = {}) {
    const f = lib();
    return opener(this, 'queue', name, (p, n, l, out) => f.queue_open_with(p, n, l, opts.maxsize ?? -1, opts.maxAttempts ?? -1, out), Queue, f.queue_free, opts);
  }
  joinableQueue(name, opts = {}) {
    const f = lib();
    return opener(this, 'joinable_queue', name, (p, n, l, out) => f.joinable_queue_open_with(p, n, l, opts.maxsize ?? -1, opts.maxAttempts ?? -1, out), JoinableQueue, f.queue_free, opts);
  }
  dict(name, opts) { const f = lib(); return opener(this, 'dict', name, f.dict_open, Dict, f.dict_free, opts); }
  /** Opens end 'a' or 'b' of the pipe called name ({duplex}, {capacity} apply on creation). */
  pipe(name, end, opts = {}) {
    const f = lib();
    const duplex = opts.duplex == null ? -1 : opts.duplex ? 1 : 0;
    return opener(this, 'pipe', name, (p, n, l, out) => f.pipe_open(p, n, l, String(end).charCodeAt(0), duplex, opts.capacity ?? -1, out), Pipe, f.pipe_free, opts);
  }
  lock(name) { const f = lib(); return opener(this, 'lock', name, f.lock_open, Lock, f.lock_free); }
  rlock(name) { const f = lib(); return opener(this, 'rlock', name, f.rlock_open, Lock, f.lock_free); }
  semaphore(name, initial = 1) {
    const f = lib();
    return opener(this, 'semaphore', name, (p, n, l, out) => f.semaphore_open(p, n, l, initial, out), Semaphore, f.semaphore_free);
  }
  boundedSemaphore(name, initial = 1) {
    const f = lib();
    return opener(this, 'bounded_semaphore', name, (p, n, l, out) => f.bounded_semaphore_open(p, n, l, initial, out), Semaphore, f.semaphore_free);
  }
  event(name) { const f = lib(); return opener(this, 'event', name, f.event_open, Event, f.event_free); }
  condition(name) { const f = lib(); return opener(this, 'condition', name, f.condition_open, Condition, f.condition_free); }
  barrier(name, parties) {
    const f = lib();
    return opener(this, 'barrier', name, (p, n, l, out) => f.barrier_open(p, n, l, parties, out), Barrier, f.barrier_free);
  }
}

/**
 * Connects to the broker at opts.path (default: $XPROC_SOCKET, else
 * $XDG_RUNTIME_DIR/xproc.sock, else /tmp/xproc-<uid>/xproc.sock), waiting up to
 * opts.timeout ms (5000) for its greeting, on a worker thread.
 */
async function connect(opts = {}) {
  const f = lib();
  const path = typeof opts === 'string' ? opts : opts.path;
  const timeout = (typeof opts === 'object' && opts.timeout != null) ? opts.timeout : 5000;
  const name = (typeof opts === 'object' && opts.name) || 'node';
  const out = [null];
  const st = await callAsync(f.client_connect_as, [path ?? null, path ? Buffer.byteLength(path) : 0,
    name, Buffer.byteLength(name), 'node', 4, timeout, out]);
  if (st !== 0) {
    throw new XprocError(st, 'connect', path || '', st === S.NO_BROKER
      ? `no broker at ${path || 'the default endpoint'}` : '');
  }
  return new Client(new Handle(out[0], f.client_free, 'client', path || ''));
}

/** The version of the loaded libxproc, e.g. "0.1.0". */
function libraryVersion() { return lib().version(); }

module.exports = {
  connect, libraryVersion, setLibraryPath: native.setLibraryPath, encode, decode, Ext, Float,
  XprocError, Client, Queue, JoinableQueue, Dict, Pipe, Lock, Semaphore, Event, Condition, Barrier,
  ABORT_CHECK_MS,
};
