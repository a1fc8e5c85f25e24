// Server token counts are taken only when they can be true (metrics.md, output_tokens): usage
// that is not a non-negative safe integer, or that exceeds 2 × max(max_tokens, content chunks),
// is dropped and the chunk count stands in for it (the request counts as estimated). Negative
// usage once gave "−32 output tok/s", 1e6 for 8 chunks 4.5 M tok/s, 1e18 an empty requests.jsonl.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIBackend } from '../../../src/backend/openai/client.js';
import { runClock } from '../../../src/core/clock.js';
import { RequestRecord } from '../../../src/core/record.js';
import { believedUsage, derive, isTokenCount, tokensPerChunk, USAGE_SLACK } from '../../../src/metrics/derive.js';
import { DONE, sseHead, startScriptedServer, tokenChunk, type ScriptedServer } from '../../helpers/scripted-server.js';
import { clientOptions } from '../../helpers/backend.js';

describe('believedUsage', () => {
  it('takes a token count up to 2 × max(max_tokens, chunks)', () => {
    expect(USAGE_SLACK).toBe(2);
    expect(believedUsage(8, 8, 32)).toBe(8);
    expect(believedUsage(64, 8, 32)).toBe(64);
    expect(believedUsage(0, 0, 32)).toBe(0);
    // a server that ignores max_tokens: its chunks vouch for it
    expect(believedUsage(1000, 1000, 32)).toBe(1000);
    expect(believedUsage(null, 8, 32)).toBeNull();
  });

  it('drops what no server can have counted', () => {
    expect(believedUsage(65, 8, 32)).toBeNull();
    expect(believedUsage(1e6, 8, 256)).toBeNull();
    expect(believedUsage(1e18, 8, 256)).toBeNull();
    expect(believedUsage(-32, 8, 256)).toBeNull();
    expect(believedUsage(7.5, 8, 256)).toBeNull();
    expect(believedUsage(Number.NaN, 8, 256)).toBeNull();
    expect(believedUsage(Number.POSITIVE_INFINITY, 8, 256)).toBeNull();
    expect(isTokenCount(2 ** 53)).toBe(false);
    expect(isTokenCount(-0)).toBe(true);
  });
});

describe('the client', () => {
  let server: ScriptedServer;
  let usage = '';
  const clock = runClock();
  beforeAll(async () => {
    server = await startScriptedServer((_q, res) => {
      sseHead(res);
      for (let i = 0; i < 7; i++) res.write(tokenChunk(`t${i} `));
      res.write(tokenChunk('end', 'length'));
      res.end(`data: {"id":"c1","choices":[],"usage":${usage}}\n\n${DONE}`);
    });
  });
  afterAll(() => server.close());

  async function withUsage(u: string, maxTokens = 256): Promise<RequestRecord> {
    usage = u;
    const backend = new OpenAIBackend(clientOptions(server.baseUrl, clock));
    const r = await new Promise<RequestRecord>((resolve) =>
      backend.send({ prompt: 'hi', maxTokens, promptTokens: 5 }, new RequestRecord(0, clock.now(), 5, false), resolve),
    );
    await backend.close();
    return r;
  }

  // fast path (plain digits) and JSON path (a sign, a fraction, an exponent, 16+ digits) alike
  for (const bad of ['-32', '7.5', '1e18', '1000000000000000000', '1000000', '"12"', 'null']) {
    it(`counts the 8 chunks when completion_tokens is ${bad}`, async () => {
      const r = await withUsage(`{"prompt_tokens":10,"completion_tokens":${bad},"total_tokens":0}`);
      expect(r.ok).toBe(true);
      expect(r.outputTokensUsage).toBeNull();
      expect(r.outputTokens).toBe(8);
      const d = derive(r);
      expect(d.outputTokensEstimated).toBe(true);
      // computed on the chunk count (the server writes all chunks at once, so one read may hold
      // them all and TPOT may be 0; it must be a figure, not NaN)
      expect(Number.isFinite(d.tpotUs)).toBe(true);
      expect(d.tpotUs).toBeGreaterThanOrEqual(0);
      expect(tokensPerChunk(r.chunkChars, r.outputTokensUsage)).toEqual(new Array(8).fill(1));
    });
  }

  it('takes usage that can be true, above the chunk count too (several tokens per chunk)', async () => {
    const r = await withUsage('{"prompt_tokens":10,"completion_tokens":24,"total_tokens":34}', 32);
    expect(r.outputTokensUsage).toBe(24);
    expect(r.outputTokens).toBe(24);
    expect(r.promptTokens).toBe(10);
  });

  it('drops usage above 2 × max_tokens when the chunks do not vouch for it', async () => {
    expect((await withUsage('{"completion_tokens":64}', 32)).outputTokensUsage).toBe(64);
    expect((await withUsage('{"completion_tokens":65}', 32)).outputTokensUsage).toBeNull();
  });

  it('drops cached tokens above the prompt the server counted (they are part of it), keeps those within', async () => {
    const over = await withUsage('{"prompt_tokens":10,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":50}}');
    expect(over.cachedTokensUsage).toBeNull();
    const within = await withUsage('{"prompt_tokens":10,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":10}}');
    expect(within.cachedTokensUsage).toBe(10);
  });

  it('drops a prompt_tokens that is not a token count, for the workload estimate', async () => {
    for (const bad of ['-5', '2.5', '1e300']) {
      const r = await withUsage(`{"prompt_tokens":${bad},"completion_tokens":8}`);
      expect(r.promptTokensUsage).toBeNull();
      expect(r.promptTokens).toBe(5);
      expect(r.outputTokensUsage).toBe(8);
    }
  });
});

describe('HTTP status classes', () => {
  it('are taken from the status HTTP defines, and a code it does not (600-999) is an invalid response', async () => {
    const { classifyStatus } = await import('../../../src/backend/openai/client.js');
    expect([429, 404, 500, 599, 600, 999, 302].map(classifyStatus)).toEqual(['http_429', 'http_4xx', 'http_5xx', 'http_5xx', 'invalid_response', 'invalid_response', 'invalid_response']);
  });
});
