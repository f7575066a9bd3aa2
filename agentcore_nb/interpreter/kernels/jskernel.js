// The JavaScript kernel that runs *inside* the sandbox: one persistent node process per session.
//
// Same framing as pykernel.py: requests on fd IN ("EXEC" + 12-digit length + 12-digit sequence
// number + payload), replies on fd OUT (12-digit length + JSON with "seq"). Code runs with vm.runInThisContext, so globals (var, function, assignments)
// persist between executions; top-level let/const persist too but cannot be declared twice.
// A returned Promise is awaited. The host enforces every limit from outside.
'use strict';

const fs = require('fs');
const net = require('net');
const util = require('util');
const vm = require('vm');

const IN = Number(process.argv[2]);
const OUT = Number(process.argv[3]);

// stdout/stderr are pipes to the host; node would queue writes in memory when the pipe is full
// (and reply before the output arrived), so make them blocking like a file.
for (const stream of [process.stdout, process.stderr]) {
  if (stream._handle && typeof stream._handle.setBlocking === 'function') stream._handle.setBlocking(true);
}

// Even a blocking pipe write returns early when a signal lands mid-write (the host's interrupt at
// the output cap, or any signal the user handles); node then queues the rest, and every later
// write of the same execution piles up behind it in memory: a loop of big writes could queue a
// gigabyte, reply first and die of heap exhaustion flushing it. So user writes go straight to the
// fd, whole, before write() returns.
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeFully(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') Atomics.wait(pause, 0, 0, 1);
      else if (e.code !== 'EINTR') throw e;
    }
  }
}

function syncWrite(fd) {
  return function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, encoding || 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    writeFully(fd, buf);
    if (typeof callback === 'function') process.nextTick(callback, null);
    return true;
  };
}
process.stdout.write = syncWrite(1);
process.stderr.write = syncWrite(2);

globalThis.require = require;
globalThis.module = module;

let pending = Buffer.alloc(0);
let busy = false;
let counter = 0;
let interruptPending = null;

function writeAll(buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(OUT, buf, off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function send(obj) {
  const body = Buffer.from(JSON.stringify(obj), 'utf8');
  writeAll(Buffer.concat([Buffer.from(String(body.length).padStart(12, '0')), body]));
}

function userStack(stack) {
  // keep the user's frames; drop the kernel's and node's own below them
  const lines = String(stack || '').split('\n');
  const cut = lines.findIndex((l) => l.includes('node:vm') || l.includes('jskernel.js'));
  return (cut === -1 ? lines : lines.slice(0, cut)).join('\n');
}

function errorOf(e) {
  if (e instanceof Error || (e && typeof e === 'object' && 'message' in e)) {
    return { name: e.name || 'Error', message: String(e.message), traceback: userStack(e.stack) };
  }
  return { name: 'Error', message: 'thrown value: ' + util.inspect(e), traceback: '' };
}

// SIGINT from the host interrupts synchronous code (breakOnSigint) or an awaited Promise (here).
process.on('SIGINT', () => {
  if (interruptPending) interruptPending(new Error('Script execution was interrupted by `SIGINT`'));
});
process.on('uncaughtException', (e) => {
  process.stderr.write('Uncaught ' + (e && e.stack ? e.stack : String(e)) + '\n');
});
process.on('unhandledRejection', (e) => {
  process.stderr.write('Unhandled rejection: ' + (e && e.stack ? e.stack : String(e)) + '\n');
});

async function execute(code) {
  const results = [];
  let error = null;
  try {
    let value = vm.runInThisContext(code, { filename: `<exec-${++counter}>`, breakOnSigint: true });
    if (value && typeof value.then === 'function') {
      const interrupted = new Promise((_, reject) => {
        interruptPending = reject;
      });
      try {
        value = await Promise.race([value, interrupted]);
      } finally {
        interruptPending = null;
      }
    }
    if (value !== undefined) {
      globalThis._ = value;
      results.push({
        data: { 'text/plain': util.inspect(value, { depth: 4, maxArrayLength: 200, breakLength: 100 }) },
        metadata: {},
      });
    }
  } catch (e) {
    error = errorOf(e);
  }
  return { ok: error === null, error, results };
}

function pump() {
  while (!busy && pending.length >= 28) {
    const size = parseInt(pending.subarray(4, 16).toString('ascii'), 10);
    const seq = parseInt(pending.subarray(16, 28).toString('ascii'), 10);
    if (pending.length < 28 + size) return;
    const op = pending.subarray(0, 4).toString('ascii');
    const payload = pending.subarray(28, 28 + size).toString('utf8');
    pending = pending.subarray(28 + size);
    if (op !== 'EXEC') {
      send({ seq, ok: true, error: null, results: [] });
      continue;
    }
    busy = true;
    execute(payload).then((reply) => {
      reply.seq = seq;
      send(reply);
      busy = false;
      setImmediate(pump);
    });
  }
}

const input = new net.Socket({ fd: IN, readable: true, writable: false });
input.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  pump();
});
input.on('end', () => process.exit(0));
send({ ready: true, language: 'javascript', version: process.version });
