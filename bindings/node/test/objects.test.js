'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const xproc = require('..');
const { startBroker } = require('./broker');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('queue across clients, timeouts as XPROC_TIMEOUT', async (t) => {
  const b = await startBroker(t);
  const qa = (await b.client()).queue('jobs', { maxsize: 10 });
  const qb = (await b.client()).queue('jobs');
  const items = [1, 'two', { n: 3 }, Buffer.from([4]), null, 2n ** 64n - 1n];
  for (const v of items) await qa.put(v);
  assert.equal(await qb.qsize(), items.length);
  assert.equal((await qb.size()).maxsize, 10);
  for (const want of items) assert.deepEqual(await qb.get(), want);
  await assert.rejects(qb.getNowait(), { code: 'XPROC_EMPTY' });
  const start = Date.now();
  await assert.rejects(qb.get({ timeout: 200 }), (e) => e.code === 'XPROC_TIMEOUT' && e.object === 'jobs' && e.op === 'queue.get');
  assert.ok(Date.now() - start >= 195);
  const c = await b.client();
  assert.throws(() => c.queue('jobs', { maxsize: 3 }), { code: 'XPROC_OPTION_MISMATCH' });
  assert.throws(() => c.dict('jobs'), { code: 'XPROC_TYPE_MISMATCH' });
  const full = c.queue('full', { maxsize: 1 });
  await full.putNowait(1);
  await assert.rejects(full.putNowait(2), { code: 'XPROC_FULL' });
  await assert.rejects(full.put(2, { timeout: 100 }), { code: 'XPROC_TIMEOUT' });
});

test('a waiting get does not block the event loop', async (t) => {
  const b = await startBroker(t);
  const q = (await b.client()).queue('wait');
  const p = (await b.client()).queue('wait');
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const got = q.get({ timeout: 5000 });
  await sleep(300);
  assert.ok(ticks >= 10, `the event loop ran ${ticks} timer ticks while get waited`);
  await p.put('late');
  assert.equal(await got, 'late');
  clearInterval(timer);
});

test('an aborted get rejects soon and takes nothing', async (t) => {
  const b = await startBroker(t);
  const q = (await b.client()).queue('abort');
  const ac = new AbortController();
  const pending = q.get({ signal: ac.signal });
  await sleep(150);
  ac.abort();
  const start = Date.now();
  await assert.rejects(pending, { name: 'AbortError' });
  assert.ok(Date.now() - start < 2000);
  await q.put('after');
  assert.equal(await (await b.client()).queue('abort').get({ timeout: 2000 }), 'after');
});

test('joinable queue and leases', async (t) => {
  const b = await startBroker(t);
  const c = await b.client();
  const q = c.joinableQueue('work');
  await q.put(1);
  await assert.rejects(q.join({ timeout: 100 }), { code: 'XPROC_TIMEOUT' });
  const joined = q.join();
  await q.get();
  await q.taskDone();
  await joined;
  await assert.rejects(q.taskDone(), { code: 'XPROC_INVALID_ARGUMENT' });

  const lq = c.queue('leased', { maxAttempts: 2 });
  await lq.put('task');
  let d = await lq.getLeased({ lease: 10000, timeout: 1000 });
  assert.equal(d.value, 'task');
  assert.equal(d.attempt, 1);
  await d.nack();
  d = await lq.getLeased({ lease: 100, timeout: 1000 });
  assert.equal(d.attempt, 2);
  await sleep(400);
  await assert.rejects(d.ack(), { code: 'XPROC_UNKNOWN_DELIVERY' });
  assert.equal(await c.queue('leased.dead').get({ timeout: 2000 }), 'task');
});

test('dict', async (t) => {
  const b = await startBroker(t);
  const d = (await b.client()).dict('stats');
  const other = (await b.client()).dict('stats');
  await d.set('host', 'a1');
  await d.set(1, ['int key']);
  assert.deepEqual(await other.get(1n), ['int key']);
  assert.equal(await other.get(new xproc.Float(1)), undefined);
  assert.equal(await other.has('host'), true);
  assert.deepEqual(await other.keys(), ['host', 1]);
  assert.deepEqual(await other.entries(), [['host', 'a1'], [1, ['int key']]]);
  assert.equal(await d.size(), 2);
  for (let i = 0; i < 5; i++) await other.incr('hits', 2);
  assert.equal(await d.incr('hits', 0), 10);
  await assert.rejects(d.incr('host'), { code: 'XPROC_WRONG_TYPE' });
  assert.equal(await d.compareAndSet('host', 'zz', 'b2'), false);
  assert.equal(await d.compareAndSet('host', 'a1', 'b2'), true);
  assert.equal(await d.setIfAbsent('host', 'c3'), false);
  assert.equal(await d.setDefault('new', 5), 5);
  assert.equal(await d.pop('new'), 5);
  assert.equal(await d.pop('new'), undefined);
  assert.equal(await d.delete('missing'), false);
  await d.set('nil', null);
  assert.equal(await d.get('nil'), null);
  await d.update({ u: 1 });
  await d.clear();
  assert.equal(await other.size(), 0);
});

test('pipe', async (t) => {
  const b = await startBroker(t);
  const a = (await b.client()).pipe('chan', 'a');
  const z = (await b.client()).pipe('chan', 'b');
  await assert.rejects((async () => (await b.client()).pipe('chan', 'b'))(), { code: 'XPROC_BUSY' });
  assert.equal(await z.poll(), false);
  await a.send([1, 2]);
  await z.send('back');
  assert.equal(await z.poll({ timeout: 1000 }), true);
  assert.deepEqual(await z.recv(), [1, 2]);
  assert.equal(await a.recv({ timeout: 1000 }), 'back');
  await assert.rejects(z.recv({ timeout: 100 }), { code: 'XPROC_TIMEOUT' });
  await a.send('last');
  a.close();
  assert.equal(await z.recv({ timeout: 1000 }), 'last');
  await assert.rejects(z.recv(), { code: 'XPROC_CLOSED' });
  a.close();
});

test('lock ownership and abandon', async (t) => {
  const b = await startBroker(t);
  const holder = await xproc.connect(b.socket);
  const l1 = holder.lock('device');
  const l2 = (await b.client()).lock('device');
  assert.equal(await l1.acquire(), true);
  assert.equal(await l2.acquire({ timeout: 0 }), false);
  assert.equal(await l2.acquire({ timeout: 100 }), false);
  await assert.rejects(l2.release(), { code: 'XPROC_NOT_OWNER' });
  const next = l2.acquire({ timeout: 5000 });
  await sleep(100);
  l1.close();
  holder.close();
  assert.equal(await next, true);
  assert.equal(l2.abandonedBy, process.pid);
  await l2.release();
  assert.equal(await l2.withLock(async () => 'inside'), 'inside');
});

test('semaphore, event, condition, barrier', async (t) => {
  const b = await startBroker(t);
  const s = (await b.client()).boundedSemaphore('slots', 2);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire({ timeout: 100 }), false);
  await s.release(2);
  await assert.rejects(s.release(), { code: 'XPROC_INVALID_ARGUMENT' });

  const e = (await b.client()).event('ready');
  const setter = (await b.client()).event('ready');
  assert.equal(await e.wait({ timeout: 100 }), false);
  setTimeout(() => setter.set(), 100);
  assert.equal(await e.wait({ timeout: 5000 }), true);
  assert.equal(await e.isSet(), true);

  const state = (await b.client()).dict('state');
  const cv = (await b.client()).condition('cv');
  const notifier = (await b.client()).condition('cv');
  (async () => {
    for (let i = 1; i <= 3; i++) {
      await sleep(50);
      await notifier.acquire();
      await state.set('n', i);
      await notifier.notifyAll();
      await notifier.release();
    }
  })();
  assert.equal(await cv.acquire(), true);
  assert.equal(await cv.waitFor(async () => (await state.get('n')) === 3, { timeout: 5000 }), true);
  assert.equal(await cv.waitFor(() => false, { timeout: 200 }), false);
  await cv.release();

  const parties = 3;
  const waits = [];
  for (let i = 0; i < parties; i++) waits.push((await b.client()).barrier('start', parties).wait({ timeout: 5000 }));
  assert.deepEqual((await Promise.all(waits)).sort(), [0, 1, 2]);
  const lonely = (await b.client()).barrier('lonely', 2);
  await assert.rejects(lonely.wait({ timeout: 100 }), { code: 'XPROC_BROKEN_BARRIER' });
  assert.equal((await lonely.state()).broken, true);
  await lonely.reset();
});

test('client calls and closed handles', async (t) => {
  const b = await startBroker(t);
  const c = await b.client();
  await c.ping();
  assert.ok((await c.connId()) > 0);
  c.queue('gone');
  assert.equal(await c.delete('gone'), true);
  assert.equal(await c.delete('gone'), false);
  await assert.rejects(xproc.connect(`${b.socket}.nothing`), { code: 'XPROC_NO_BROKER' });
  const q = c.queue('q');
  q.close();
  await assert.rejects(q.put(1), { code: 'XPROC_INVALID_ARGUMENT' });
});
