// The dashboard's worker thread: the HTTP server, the SSE streams, the charts and the final report
// all live here, so building and serializing a long run's charts (tens to hundreds of ms at 1 800
// windows) never holds up the run's thread. It only receives messages (dashboard-protocol.ts).
import { parentPort, workerData } from 'node:worker_threads';
import type { RunResult } from '../results/types.js';
import type { DashboardThreadData, FromDashboard, ToDashboard } from './dashboard-protocol.js';
import { WindowMirror } from './dashboard-protocol.js';
import { DashboardServer } from './dashboard-server.js';

const port = parentPort;
if (port === null) throw new Error('dashboard-thread.js runs as a worker thread only');
const data = workerData as DashboardThreadData;
const post = (m: FromDashboard): void => port.postMessage(m);

const server = new DashboardServer({
  host: data.host,
  port: data.port,
  title: data.title,
  log: (line) => post({ type: 'log', line }),
  onPages: (count) => post({ type: 'pages', count }),
  ...(data.maxClients !== undefined && { maxClients: data.maxClients }),
});
const mirror = new WindowMirror();

port.on('message', (m: ToDashboard) => {
  switch (m.type) {
    case 'progress':
      server.progress(m.progress);
      break;
    case 'checkpoint': {
      const result = { ...m.result, windows: mirror.apply(m.windows, m.changed) } as RunResult;
      if (result.status === 'running') server.update(result);
      else server.finish(result);
      break;
    }
    case 'close':
      void server.close(m.graceMs).then(() => {
        post({ type: 'closed' });
        port.close();
      });
      break;
  }
});

server.listen().then(
  (url) => post({ type: 'listening', url }),
  (err: Error) => {
    post({ type: 'error', message: err.message });
    port.close();
  },
);
