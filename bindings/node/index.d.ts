// Type declarations of the xproc Node.js binding (index.js).

/** Any value xproc carries (MessagePack). */
export type Value =
  | null | undefined | boolean | number | bigint | string | Buffer | Uint8Array | ArrayBuffer
  | Float | Ext | Value[] | Map<Value, Value> | { [key: string]: Value };

/** What a receive gives back: maps with a non-string key are Maps, others plain objects. */
export type Received =
  | null | boolean | number | bigint | string | Buffer | Float | Ext | Received[]
  | Map<Received, Received> | { [key: string]: Received };

/** A MessagePack extension value (type -1 is a timestamp). */
export class Ext {
  constructor(type: number, data: Uint8Array);
  readonly type: number;
  readonly data: Buffer;
}

/** A number sent as a float even when integral; received floats with {preserveFloats}. */
export class Float {
  constructor(value: number);
  readonly value: number;
  valueOf(): number;
}

/** A failed call. code is the status name, e.g. 'XPROC_TIMEOUT', 'XPROC_KEY_NOT_FOUND'. */
export class XprocError extends Error {
  readonly code: string;
  readonly status: number;
  /** The operation, e.g. 'queue.get'. */
  readonly op: string;
  /** The object's name ('' for client calls). */
  readonly object: string;
}

/** Options of a call that may wait. */
export interface WaitOptions {
  /** Milliseconds to wait at most; 0: do not wait; absent: as long as it takes. */
  timeout?: number;
  /** Ends the wait (within 100 ms), rejecting with signal.reason; the call took nothing. */
  signal?: AbortSignal;
}

export interface OpenOptions {
  /** Received floats come back as Float, so that 0.0 is not 0. */
  preserveFloats?: boolean;
}

export interface QueueOptions extends OpenOptions {
  /** The queue's bound on creation (0: unbounded). */
  maxsize?: number;
  /** Leased deliveries an item gets before it goes to NAME.dead. */
  maxAttempts?: number;
}

export interface QueueSize { len: number; maxsize: number; unfinished: number }

export interface Delivery {
  value: Received;
  id: number | bigint;
  attempt: number;
  ack(): Promise<void>;
  nack(delayMs?: number): Promise<void>;
}

declare class Obj {
  readonly name: string;
  /** Frees this handle (the object stays in the broker) once calls in progress end. */
  close(): void;
}

export class Queue extends Obj {
  put(value: Value, opts?: WaitOptions): Promise<void>;
  putNowait(value: Value): Promise<void>;
  get(opts?: WaitOptions): Promise<Received>;
  getNowait(): Promise<Received>;
  size(): Promise<QueueSize>;
  qsize(): Promise<number>;
  getLeased(opts?: WaitOptions & { lease?: number }): Promise<Delivery>;
}

export class JoinableQueue extends Queue {
  taskDone(): Promise<void>;
  join(opts?: WaitOptions): Promise<void>;
}

export class Dict extends Obj {
  /** undefined if the key is absent (a stored nil is null). */
  get(key: Value): Promise<Received | undefined>;
  set(key: Value, value: Value): Promise<void>;
  delete(key: Value): Promise<boolean>;
  has(key: Value): Promise<boolean>;
  size(): Promise<number>;
  keys(): Promise<Received[]>;
  values(): Promise<Received[]>;
  entries(): Promise<[Received, Received][]>;
  update(entries: Map<Value, Value> | [Value, Value][] | { [key: string]: Value }): Promise<void>;
  pop(key: Value): Promise<Received | undefined>;
  setDefault(key: Value, def: Value): Promise<Received>;
  clear(): Promise<void>;
  incr(key: Value, delta?: number | bigint): Promise<number | bigint>;
  compareAndSet(key: Value, expected: Value, value: Value): Promise<boolean>;
  setIfAbsent(key: Value, value: Value): Promise<boolean>;
}

export class Pipe extends Obj {
  send(value: Value, opts?: WaitOptions): Promise<void>;
  /** Rejects with code 'XPROC_CLOSED' at end of file. */
  recv(opts?: WaitOptions): Promise<Received>;
  poll(opts?: WaitOptions): Promise<boolean>;
}

export class Lock extends Obj {
  /** The pid of the previous owner if the last acquire took an abandoned lock, else null. */
  abandonedBy: number | null | undefined;
  acquire(opts?: WaitOptions): Promise<boolean>;
  release(): Promise<void>;
  withLock<T>(fn: () => T | Promise<T>, opts?: WaitOptions): Promise<T>;
}

export class Semaphore extends Obj {
  acquire(opts?: WaitOptions): Promise<boolean>;
  release(n?: number): Promise<void>;
}

export class Event extends Obj {
  set(): Promise<void>;
  clear(): Promise<void>;
  isSet(): Promise<boolean>;
  wait(opts?: WaitOptions): Promise<boolean>;
}

export class Condition extends Obj {
  acquire(opts?: WaitOptions): Promise<boolean>;
  release(): Promise<void>;
  wait(opts?: { timeout?: number }): Promise<boolean>;
  waitFor(pred: () => unknown, opts?: { timeout?: number }): Promise<boolean>;
  notify(n?: number): Promise<number>;
  notifyAll(): Promise<number>;
}

export class Barrier extends Obj {
  wait(opts?: { timeout?: number }): Promise<number>;
  abort(): Promise<void>;
  reset(): Promise<void>;
  state(): Promise<{ parties: number; nWaiting: number; broken: boolean }>;
}

export class Client extends Obj {
  ping(): Promise<void>;
  connId(): Promise<number>;
  delete(name: string): Promise<boolean>;
  queue(name: string, opts?: QueueOptions): Queue;
  joinableQueue(name: string, opts?: QueueOptions): JoinableQueue;
  dict(name: string, opts?: OpenOptions): Dict;
  pipe(name: string, end: 'a' | 'b', opts?: OpenOptions & { duplex?: boolean; capacity?: number }): Pipe;
  lock(name: string): Lock;
  rlock(name: string): Lock;
  semaphore(name: string, initial?: number): Semaphore;
  boundedSemaphore(name: string, initial?: number): Semaphore;
  event(name: string): Event;
  condition(name: string): Condition;
  barrier(name: string, parties: number): Barrier;
}

/** Connects to the broker at path (default endpoint if absent). */
export function connect(opts?: string | { path?: string; timeout?: number; name?: string }): Promise<Client>;
export function libraryVersion(): string;
/** Where to load libxproc from, before the first call ($XPROC_LIB wins). */
export function setLibraryPath(path: string): void;
export function encode(value: Value): Buffer;
export function decode(data: Uint8Array, opts?: { preserveFloats?: boolean }): Received;
export const ABORT_CHECK_MS: number;
