// A raw HTTP/1.1 server over node:net for the transport's tests: each whole request (its head
// and a Content-Length body) goes to `answer`, which writes whatever bytes the test wants.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Http1Server {
  url: string;
  server: Server;
  /** every request as received (latin1, or utf8 with `utf8: true`) */
  requests: string[];
  /** connections accepted */
  connections: number;
  /** the connections still open */
  sockets: Socket[];
  /** closes the listener and every connection */
  close(): Promise<void>;
}

/** `answer(n, socket, request)`: n counts requests over all connections. */
export async function startHttp1Server(
  answer: (n: number, socket: Socket, request: string) => unknown,
  { host = '127.0.0.1', utf8 = false }: { host?: string; utf8?: boolean } = {},
): Promise<Http1Server> {
  const served: Http1Server = { url: '', server: null as unknown as Server, requests: [], connections: 0, sockets: [], close: async () => undefined };
  const server = createServer((socket) => {
    served.connections++;
    served.sockets.push(socket);
    socket.on('close', () => served.sockets.splice(served.sockets.indexOf(socket), 1));
    // no Nagle: a response written in pieces arrives in as many reads
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, headEnd).toString('latin1'))?.[1] ?? 0);
        if (buf.length < headEnd + 4 + length) return;
        const request = buf.subarray(0, headEnd + 4 + length).toString(utf8 ? 'utf8' : 'latin1');
        buf = buf.subarray(headEnd + 4 + length);
        served.requests.push(request);
        void answer(served.requests.length - 1, socket, request);
      }
    });
  });
  served.server = server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  served.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  served.close = async () => {
    for (const s of [...served.sockets]) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return served;
}
