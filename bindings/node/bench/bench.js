'use strict';
// xproc-bench (Node.js): the binding's figures for bench/run.py (--only bindings), one JSON
// line per scenario, the contract of bindings/python/bench_python.py:
//
//   queue_put_get  await put then await get of a --size byte payload, unpipelined (ops: puts + gets)
//   prodcons       a producer process puts --iters items, this process gets them (ops: items delivered)
//
// Usage: node bench/bench.js --socket PATH [--iters N] [--secs S] [--size B]
const { spawn } = require('node:child_process');
const xproc = require('..');

function flags(argv) {
  const o = { socket: process.env.XPROC_SOCKET, iters: 100000, secs: 3, size: 64, produce: null };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in o)) throw new Error(`unknown flag ${argv[i]}`);
    o[k] = ['iters', 'secs', 'size'].includes(k) ? Number(argv[i + 1]) : argv[i + 1];
  }
  return o;
}

function emit(scenario, ops, secs, note) {
  console.log(JSON.stringify({ scenario, ops, secs, ops_per_s: ops / secs, note }));
}

async function main() {
  const o = flags(process.argv.slice(2));
  const data = Buffer.alloc(o.size);
  for (let i = 0; i < o.size; i++) data[i] = i % 251;
  const c = await xproc.connect(o.socket);
  if (o.produce) {
    const q = c.queue(o.produce, { maxsize: 1000 });
    for (let i = 0; i < o.iters; i++) await q.put(data);
    c.close();
    return;
  }
  const q = c.queue(`bench-node-${process.pid}`);
  for (let i = 0; i < 2000; i++) { await q.put(data); await q.get(); } // JIT warm-up
  const limit = o.secs * 1e9;
  let start = process.hrtime.bigint();
  let ops = 0;
  while (ops < o.iters && Number(process.hrtime.bigint() - start) < limit) {
    await q.put(data);
    await q.get();
    ops += 2;
  }
  emit('node_queue_put_get', ops, Number(process.hrtime.bigint() - start) / 1e9,
    `Node.js binding (koffi), ${o.size} B Buffer, unpipelined`);

  const name = `bench-node-pc-${process.pid}`;
  const cq = c.queue(name, { maxsize: 1000 });
  const producer = spawn(process.execPath, [__filename, '--socket', o.socket, '--iters', String(o.iters),
    '--size', String(o.size), '--produce', name], { stdio: 'inherit' });
  const exited = new Promise((resolve) => producer.once('exit', resolve));
  await cq.get();
  start = process.hrtime.bigint();
  for (let i = 1; i < o.iters; i++) await cq.get();
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if ((await exited) !== 0) throw new Error('the producer failed');
  emit('node_prodcons', o.iters - 1, elapsed,
    `Node.js binding, producer process -> consumer process, ${o.size} B, maxsize 1000`);
  c.close();
}

main().catch((e) => { console.error(`xproc-bench (node): ${e.stack}`); process.exit(1); });
