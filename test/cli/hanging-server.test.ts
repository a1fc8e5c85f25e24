// A server that accepts connections, lists its model, and never answers a completion (issue 13,
// item 9): the run once ended with 0 completed, every request cut, status "complete", exit 0 and
// "No request failed", and baseline add took it. It is a failed run (107) whose requests count as
// failed (unfinished), with either client, and a baseline refuses it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferload, tmp } from '../helpers/cli.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

let hanging: ScriptedServer;
beforeAll(async () => {
  hanging = await startScriptedServer((req, res) => {
    if (req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'hung-model', object: 'model' }] }));
      return;
    }
    if (req.url?.endsWith('/metrics')) {
      res.writeHead(404).end();
      return;
    }
    // a completion: the connection stays open, nothing is ever written
  });
});
afterAll(async () => {
  await hanging.close();
});

describe('a server that accepts connections and never answers', () => {
  it.each([1, 2])('is a failed run (107) with --workers %i: every request failed as unfinished, and baseline add refuses it', async (workers) => {
    const d = tmp();
    const out = join(d, 'run');
    const r = await inferload([
      'run',
      'smoke',
      '--target',
      hanging.baseUrl,
      '--workers',
      String(workers),
      '--set',
      'load.rate=3',
      '--set',
      'load.duration=1s',
      '--set',
      'load.gracefulStop=700ms',
      '--set',
      'target.timeout=60s',
      '--quiet',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(107);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      status: string;
      status_reason: string;
      summary: { requests: { sent: number; completed: number; failed: number }; errors: Record<string, number> };
    };
    expect(results.status).toBe('failed');
    expect(results.status_reason).toMatch(/no request succeeded/);
    expect(results.summary.requests.sent).toBeGreaterThan(0);
    expect(results.summary.requests.completed).toBe(0);
    expect(results.summary.requests.failed).toBe(results.summary.requests.sent);
    expect(results.summary.errors.unfinished).toBe(results.summary.requests.sent);
    for (const file of ['report.md', 'report.html']) {
      expect(existsSync(join(out, file)), file).toBe(true);
      expect(readFileSync(join(out, file), 'utf8'), file).not.toContain('No request failed');
    }
    expect(r.stdout).not.toContain('No request failed');

    const baseline = join(d, 'baseline.json');
    const add = await inferload(['baseline', 'add', baseline, join(out, 'results.json')]);
    expect(add.code).toBe(104);
    expect(add.stderr).toMatch(/a baseline keeps complete runs only; this one is "failed"/);
    expect(existsSync(baseline)).toBe(false);
  }, 30_000);
});
