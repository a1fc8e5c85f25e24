// A tiny real HTTP server whose response each test scripts byte by byte (split frames, stalls,
// resets, error events), for testing the client against servers that misbehave; and a raw
// node:net server (startRawServer) for endings node:http will not write on purpose.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';

export type Script = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

export interface ScriptedServer {
  baseUrl: string;
  requests: { headers: IncomingMessage['headers']; body: string; url: string }[];
  setScript(s: Script): void;
  close(): Promise<void>;
}

export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  let current = script;
  const requests: ScriptedServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ headers: req.headers, body, url: req.url ?? '' });
      res.socket?.setNoDelay(true);
      void current(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    setScript: (s) => {
      current = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

export const roleChunk = (): string =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n`;
export const tokenChunk = (text: string, finish: string | null = null): string =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}}]}\n\n`;
export const usageChunk = (prompt: number, completion: number): string =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt + completion}}}\n\n`;
export const DONE = 'data: [DONE]\n\n';

/** One connection of a RawServer, handed to its script once the request has been read whole. */
export interface RawConnection {
  socket: Socket;
  /** resolves when the socket has closed, by either side */
  closed: Promise<void>;
}

export interface RawServer {
  baseUrl: string;
  connections: RawConnection[];
  close(): Promise<void>;
}

/**
 * A node:net server that answers each request with bytes its script writes itself, for endings
 * node:http will not produce on purpose: a body cut short of its Content-Length, a chunked body
 * without its last chunk, a reset (RST) after the headers, a response cut inside its headers.
 * The script runs once per request, after the request's head and body have been read.
 */
export async function startRawServer(script: (c: RawConnection) => void | Promise<void>): Promise<RawServer> {
  const connections: RawConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    // the client's reset of a connection it gave up on is expected here, not an error
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        sockets.delete(socket);
        resolve();
      }),
    );
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, headEnd).toString('latin1'));
      if (buf.length < headEnd + 4 + Number(length?.[1] ?? 0)) return;
      // one request per connection: the scripts end or cut it
      socket.off('data', onData);
      const c: RawConnection = { socket, closed };
      connections.push(c);
      void script(c);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The status line and headers of a 200 event stream; `extra` are more header lines. */
export const rawSseHead = (...extra: string[]): string =>
  ['HTTP/1.1 200 OK', 'content-type: text/event-stream', ...extra, '', ''].join('\r\n');

/** One HTTP/1.1 chunk (chunked transfer coding) carrying `data`. */
export const httpChunk = (data: string): string => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;
