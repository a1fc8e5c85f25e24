// The entry point of one client worker thread of WorkerPoolBackend (pool.ts): its own
// OpenAIBackend, stamping on this thread's performance.now(), performs the requests the main
// thread forwards, and posts every record finished in an event-loop turn back in one message.
// Only the network and the stream parsing run here; the main thread converts the stamps to its
// run clock (protocol.ts says how) and keeps the recorder. Loaded from dist/ (node:worker_threads).
import { parentPort, workerData } from 'node:worker_threads';
import type { Clock } from '../../core/clock.js';
import { RequestRecord } from '../../core/record.js';
import { OpenAIBackend } from '../openai/client.js';
import type { RequestHandle } from '../types.js';
import { clockAnchor, packResults, type FromThread, type ThreadData, type ToThread } from './protocol.js';

if (!parentPort) throw new Error('thread.js is the entry point of a worker thread, not a program');
const port = parentPort;
const data = workerData as ThreadData;

/** This thread's own monotonic clock, in µs; the main thread maps it onto the run clock. */
const clock: Clock = { now: () => performance.now() * 1000, epochMs: performance.timeOrigin };
const anchor = clockAnchor();
const backend = new OpenAIBackend({ ...data.options, clock });

/** requests in flight on this thread, by the pool's id */
const handles = new Map<number, RequestHandle>();
let finished: RequestRecord[] = [];
let flushScheduled = false;

const post = (m: FromThread, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

/** Posts every record finished since the last flush, in one message. */
function flush(): void {
  flushScheduled = false;
  if (finished.length === 0) return;
  const m = packResults(finished, backend.parseStats());
  finished = [];
  post(m, [m.stamps.buffer as ArrayBuffer, m.chars.buffer as ArrayBuffer]);
}

function onDone(r: RequestRecord): void {
  handles.delete(r.id);
  finished.push(r);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

async function close(): Promise<void> {
  flush();
  try {
    await backend.close();
  } catch {
    // closing is best effort; the main thread fails whatever never came back
  }
  // handlers cut by the close report on the next turn at the latest
  await new Promise((resolve) => setImmediate(resolve));
  flush();
  post({ type: 'closed' });
  port.close();
}

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'send': {
      const r = new RequestRecord(m.id, 0, m.req.promptTokens, false);
      let ended = false;
      const handle = backend.send(m.req, r, (done) => {
        ended = true;
        onDone(done);
      });
      if (!ended) handles.set(m.id, handle);
      break;
    }
    case 'abort':
      handles.get(m.id)?.abort(m.errorClass, m.message);
      break;
    case 'preconnect':
      void backend.preconnect(m.connections).finally(() => post({ type: 'preconnected' }));
      break;
    case 'close':
      void close();
      break;
    case 'crash':
      if (m.mode === 'exit') process.exit(70);
      setImmediate(() => {
        throw new Error('client worker thread crashed on purpose (test hook)');
      });
      break;
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
});

post({ type: 'ready', anchor });
