// tokenizer: server against the other tokenize endpoints: a llama.cpp-style server (POST /tokenize
// {content} → {tokens}) and a TGI-style one ({inputs} → a list), each counting words and adding
// its own template tokens to the usage of a generation, and a target with no tokenize endpoint (104).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/core/errors.js';
import { approxTokenCount } from '../../../src/core/tokens.js';
import { Rng } from '../../../src/core/rng.js';
import { loadTokenizer } from '../../../src/workload/tokenizer.js';

type Dialect = 'llamacpp' | 'tgi' | 'none';

/** A server counting like the approximation, whose chat template adds 5 tokens and completions 1 (BOS). */
function fakeServer(dialect: Dialect): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      const send = (status: number, payload: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      if (req.url === '/tokenize') {
        if (dialect === 'llamacpp' && typeof json.content === 'string') return send(200, { tokens: new Array(approxTokenCount(json.content)).fill(7) });
        if (dialect === 'llamacpp') return send(200, { tokens: [] });
        if (dialect === 'tgi' && typeof json.inputs === 'string') return send(200, new Array(approxTokenCount(json.inputs)).fill({ id: 7, text: 'x', start: 0, stop: 1 }));
        return send(dialect === 'tgi' ? 422 : 404, { error: 'no' });
      }
      if (req.url === '/v1/chat/completions') {
        const messages = json.messages as { content: string }[];
        return send(200, { choices: [{ message: { content: 'x' } }], usage: { prompt_tokens: approxTokenCount(messages[0]!.content) + 5, completion_tokens: 1 } });
      }
      if (req.url === '/v1/completions') {
        return send(200, { choices: [{ text: 'x' }], usage: { prompt_tokens: approxTokenCount(json.prompt as string) + 1, completion_tokens: 1 } });
      }
      send(404, { error: 'not found' });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server, seen })),
  );
}

describe('tokenizer: server', () => {
  let running: Server | null = null;
  afterEach(() => {
    running?.close();
    running = null;
  });

  it.each(['llamacpp', 'tgi'] as const)('calibrates against a %s-style tokenize endpoint and the usage of two generations', async (dialect) => {
    const { url, server, seen } = await fakeServer(dialect);
    running = server;
    for (const endpoint of ['chat', 'completions'] as const) {
      const tok = await loadTokenizer('server', endpoint, { baseUrl: url, model: 'm', authorization: null });
      expect(tok.info()).toMatchObject({ kind: 'server', name: dialect === 'tgi' ? 'POST /tokenize (TGI)' : 'POST /tokenize (llama.cpp)', overhead_tokens: endpoint === 'chat' ? 5 : 1 });
      const rng = new Rng(1);
      for (let i = 0; i < 50; i++) {
        const p = tok.synthesize(rng.int(1, 300), rng, i);
        expect(approxTokenCount(p.text) + tok.overhead).toBe(p.tokens);
        expect(await tok.countPrompt(p.text)).toBe(p.tokens);
      }
    }
    expect(seen.filter((s) => s === 'POST /v1/chat/completions')).toHaveLength(2);
  });

  it('a target without a tokenize endpoint is a 104 naming workload.tokenizer and the fix', async () => {
    const { url, server } = await fakeServer('none');
    running = server;
    const err = await loadTokenizer('server', 'chat', { baseUrl: url, model: 'm', authorization: null }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    const p = (err as InvalidInputError).problems[0]!;
    expect(p.path).toBe('workload.tokenizer');
    expect(p.message).toMatch(/no tokenize endpoint .* name the model's tokenizer\.json or a family/);
  });
});
