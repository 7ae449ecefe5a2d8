'use strict';
// Starts one real xprocd per test on a socket of its own ($XPROCD, else the release build of
// this checkout); stopped with SIGTERM when the test ends.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const xproc = require('..');

const XPROCD = process.env.XPROCD || path.resolve(__dirname, '../../../target/release/xprocd');

async function startBroker(t) {
  if (!fs.existsSync(XPROCD)) throw new Error(`no xprocd at ${XPROCD} (cargo build --release -p xproc-broker, or set XPROCD)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xproc-node-test.'));
  const socket = path.join(dir, 'x.sock');
  const proc = spawn(XPROCD, ['--socket', socket, '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.close();
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('hung'), 10000))]);
    if (code === 'hung') proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    if (code !== 0) throw new Error(`xprocd exited ${code} on SIGTERM`);
  });
  for (let i = 0; i < 500 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
  if (!fs.existsSync(socket)) throw new Error(`xprocd did not create ${socket}`);
  return {
    socket,
    async client() { const c = await xproc.connect(socket); clients.push(c); return c; },
  };
}

module.exports = { startBroker };
