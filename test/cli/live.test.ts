// The live outputs through the real binary: --metrics-listen serves inferload's series during the
// run, labelled with the run's id, and --dashboard serves its page; bad values are refused (104)
// before anything starts, and a sweep refuses them with the reason.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, inferload, tmp } from '../helpers/cli.js';

describe('live outputs (the real binary)', () => {
  it('a run serves /metrics and the dashboard while it goes on; the series carry its run id', async () => {
    const d = tmp();
    const child = spawn(process.execPath, [BIN, 'run', 'smoke', '--metrics-listen', '127.0.0.1:0', '--dashboard', '0', '--out', join(d, 'out'), '--quiet'], { cwd: d, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const urls = new Promise<{ metrics: string; dashboard: string }>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        const m = /serving (http:\/\/\S+\/metrics)/.exec(stderr);
        const dash = /dashboard at (http:\/\/\S+)/.exec(stderr);
        if (m && dash) resolve({ metrics: m[1]!, dashboard: dash[1]! });
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const { metrics, dashboard } = await urls;
    // a few requests into the run
    await new Promise((r) => setTimeout(r, 2500));
    const text = await (await fetch(metrics)).text();
    const page = await fetch(dashboard);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('inferload live: smoke');
    expect(await exited).toBe(0);
    const results = JSON.parse(readFileSync(join(d, 'out', 'results.json'), 'utf8')) as { run_id: string; summary: { requests: { completed: number } } };
    const completed = /^inferload_requests_total\{[^}]*run_id="([^"]+)"[^}]*outcome="completed"[^}]*\} (\d+)$/m.exec(text);
    expect(completed, text.slice(0, 500)).not.toBeNull();
    expect(completed![1]).toBe(results.run_id);
    expect(Number(completed![2])).toBeGreaterThan(0);
    expect(Number(completed![2])).toBeLessThanOrEqual(results.summary.requests.completed);
  }, 60_000);

  it('bad values are refused before anything starts; a sweep refuses them with the reason', async () => {
    const bad = await inferload(['run', 'smoke', '--metrics-listen', 'nowhere', '--remote-write', 'ftp://x/?token=s3cret', '--dashboard-host', '0.0.0.0']);
    expect(bad.code).toBe(104);
    expect(bad.stderr).toContain('--metrics-listen: expected HOST:PORT');
    expect(bad.stderr).toContain('--remote-write: expected an http(s) URL');
    expect(bad.stderr).toContain('--dashboard-host: give --dashboard too');
    expect(bad.stderr).not.toContain('s3cret');
    const sweep = await inferload(['sweep', 'smoke', '--dashboard']);
    expect(sweep.code).toBe(104);
    expect(sweep.stderr).toContain('each step of a sweep is a run of its own');
  });
});
