// Compiled by `npm run typecheck` (never run): the declarations describe the README's usage.
import * as xproc from '..';

async function main(): Promise<void> {
  const c: xproc.Client = await xproc.connect({ path: '/tmp/x.sock', timeout: 1000 });
  const q = c.queue('tasks', { maxsize: 100 });
  await q.put({ n: 7, big: 2n ** 64n - 1n, bytes: Buffer.from([1]) });
  const task: xproc.Received = await q.get({ timeout: 5000, signal: AbortSignal.timeout(6000) });
  const d = c.dict('stats');
  const hits: number | bigint = await d.incr('hits');
  const l = c.lock('device');
  await l.withLock(async () => task);
  try {
    await q.get({ timeout: 0 });
  } catch (e) {
    if (e instanceof xproc.XprocError && e.code === 'XPROC_EMPTY') console.log(hits);
  }
  c.close();
}
void main;
