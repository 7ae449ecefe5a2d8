'use strict';
// The Node.js worker of the master/worker example (README.md beside this file): takes
// integers from task_queue, "works" 200 ms on each, and puts "n * n = n² (by node worker
// <pid>)" on result_queue, until the stop sentinel (null) or 15 s without a task.
const path = require('node:path');
const xproc = require(path.resolve(__dirname, '../../bindings/node'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const c = await xproc.connect(); // $XPROC_SOCKET, or the default endpoint
  const tasks = c.queue('task_queue');
  const results = c.queue('result_queue');
  let done = 0;
  for (;;) {
    let task;
    try {
      task = await tasks.get({ timeout: 15000 });
    } catch (e) {
      if (e.code !== 'XPROC_TIMEOUT') throw e;
      console.log(`node worker ${process.pid}: no task for 15 s, stopping`);
      break;
    }
    if (task === null) break; // the stop sentinel
    const n = BigInt(task);
    console.log(`node worker ${process.pid}: run task ${n} * ${n}...`);
    await sleep(200);
    await results.put(`${n} * ${n} = ${n * n} (by node worker ${process.pid})`);
    done++;
  }
  console.log(`node worker ${process.pid}: done, ${done} task(s)`);
  c.close();
}

main().catch((e) => { console.error(`node worker: ${e.message}`); process.exit(1); });
