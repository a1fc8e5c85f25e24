// The simulator's /metrics and /gpu/metrics over real sockets, read by the reference parser
// (Python prometheus_client, as Debian packages it): families, types, counters that agree with the
// requests the clients saw, and live values while streams are open.

import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSimServer } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/index.js';

const PYTHON = '/usr/bin/python3';
const PYTHON_HAS_PROMETHEUS_CLIENT =
  spawnSync(PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' }).status === 0;
const NEEDS_PYTHON = PYTHON_HAS_PROMETHEUS_CLIENT
  ? 'parsed by Python prometheus_client'
  : 'SKIPPED: Python prometheus_client is missing (apt-get install -y python3-prometheus-client)';

interface PySample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface PyFamily {
  name: string;
  type: string;
  documentation: string;
  samples: PySample[];
}

/** Parse an exposition with prometheus_client's `text_string_to_metric_families`; throws on its errors. */
function parseWithPython(text: string): Map<string, PyFamily> {
  const script = [
    'import json, math, sys',
    'from prometheus_client.parser import text_string_to_metric_families',
    'out = []',
    'for f in text_string_to_metric_families(sys.stdin.read()):',
    '    out.append({"name": f.name, "type": f.type, "documentation": f.documentation,',
    '                "samples": [{"name": s.name, "labels": s.labels,',
    '                             "value": s.value if math.isfinite(s.value) else str(s.value)} for s in f.samples]})',
    'print(json.dumps(out))',
  ].join('\n');
  const run = spawnSync(PYTHON, ['-c', script], { input: text, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`prometheus_client rejected the exposition:\n${run.stderr}`);
  const families = JSON.parse(run.stdout) as PyFamily[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of the one sample called `name` whose labels include `labels`. */
function value(families: Map<string, PyFamily>, family: string, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const found = f.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples ${name} ${JSON.stringify(labels)} in ${family}`);
  return found[0]!.value;
}

async function get(url: string): Promise<{ status: number; contentType: string; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, contentType: String(res.headers['content-type']), text: await res.body.text() };
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** A streaming chat request: resolves `firstToken` on its first content chunk, `done` with its usage. */
function streamChat(baseUrl: string, content: string, maxTokens: number): { firstToken: Promise<void>; done: Promise<Usage> } {
  let onFirst!: () => void;
  const firstToken = new Promise<void>((resolve) => (onFirst = resolve));
  const done = (async (): Promise<Usage> => {
    const res = await request(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        messages: [{ role: 'user', content }],
        max_tokens: maxTokens,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(res.statusCode).toBe(200);
    let buf = '';
    let usage: Usage | undefined;
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const data = buf.slice(6, i);
        buf = buf.slice(i + 2);
        if (data === '[DONE]') continue;
        const json = JSON.parse(data) as { choices: Array<{ delta?: { content?: string } }>; usage?: Usage | null };
        if (json.choices[0]?.delta?.content) onFirst();
        if (json.usage) usage = json.usage;
      }
    }
    if (!usage) throw new Error('no usage chunk');
    return usage;
  })();
  return { firstToken, done };
}

describe(`simulator /metrics and /gpu/metrics, default profile (${NEEDS_PYTHON})`, () => {
  let sim: SimServer;
  let origin: string;
  const usages: Usage[] = [];
  let during: { vllm: string; dcgm: string };
  let after: { vllm: string; dcgm: string };

  beforeAll(async () => {
    sim = await startSimServer({ host: '127.0.0.1', seed: 7 });
    origin = sim.url.replace(/\/v1$/, '');
    const streams = Array.from({ length: 12 }, (_, i) =>
      streamChat(sim.url, `request ${i}: ${'tell me about the sea and the sky '.repeat(20 + 10 * i)}`, 40 + 8 * i),
    );
    // every stream has its first token and none has its last (the shortest needs 40 decode steps)
    await Promise.all(streams.map((s) => s.firstToken));
    during = { vllm: (await get(`${origin}/metrics`)).text, dcgm: (await get(`${origin}/gpu/metrics`)).text };
    usages.push(...(await Promise.all(streams.map((s) => s.done))));
    after = { vllm: (await get(`${origin}/metrics`)).text, dcgm: (await get(`${origin}/gpu/metrics`)).text };
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('serves Prometheus text 0.0.4 on GET, 405 on other methods', async () => {
    for (const path of ['/metrics', '/gpu/metrics']) {
      const res = await get(`${origin}${path}`);
      expect(res.status).toBe(200);
      expect(res.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      const post = await request(`${origin}${path}`, { method: 'POST', body: '' });
      expect(post.statusCode).toBe(405);
      await post.body.dump();
    }
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('exposes vLLM V1 families with their types', () => {
    const families = parseWithPython(after.vllm);
    const expected: Record<string, string> = {
      'vllm:num_requests_running': 'gauge',
      'vllm:num_requests_waiting': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge',
      // prometheus_client names counter families without `_total`
      'vllm:num_preemptions': 'counter',
      'vllm:num_preemptions_created': 'gauge',
      'vllm:prompt_tokens': 'counter',
      'vllm:generation_tokens': 'counter',
      'vllm:request_success': 'counter',
      'vllm:time_to_first_token_seconds': 'histogram',
      'vllm:inter_token_latency_seconds': 'histogram',
      'vllm:e2e_request_latency_seconds': 'histogram',
      'vllm:request_queue_time_seconds': 'histogram',
      'vllm:request_prompt_tokens': 'histogram',
      'vllm:request_generation_tokens': 'histogram',
    };
    for (const [name, type] of Object.entries(expected)) expect(families.get(name)?.type, name).toBe(type);
    const running = families.get('vllm:num_requests_running')!.samples[0]!;
    expect(running.labels).toEqual({ engine: '0', model_name: 'meta-llama/Llama-3.1-8B-Instruct' });
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('counters and histograms match the requests the clients saw', () => {
    const f = parseWithPython(after.vllm);
    const n = usages.length;
    const completion = usages.reduce((s, u) => s + u.completion_tokens, 0);
    const prompt = usages.reduce((s, u) => s + u.prompt_tokens, 0);
    expect(value(f, 'vllm:generation_tokens', 'vllm:generation_tokens_total')).toBe(completion);
    expect(value(f, 'vllm:prompt_tokens', 'vllm:prompt_tokens_total')).toBe(prompt);
    const success = (reason: string): number =>
      value(f, 'vllm:request_success', 'vllm:request_success_total', { finished_reason: reason });
    expect(success('length')).toBe(n);
    expect(success('stop')).toBe(0);
    expect(success('abort')).toBe(0);
    expect(value(f, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_count')).toBe(n);
    expect(value(f, 'vllm:e2e_request_latency_seconds', 'vllm:e2e_request_latency_seconds_count')).toBe(n);
    expect(value(f, 'vllm:request_queue_time_seconds', 'vllm:request_queue_time_seconds_count')).toBe(n);
    expect(value(f, 'vllm:inter_token_latency_seconds', 'vllm:inter_token_latency_seconds_count')).toBe(completion - n);
    expect(value(f, 'vllm:request_generation_tokens', 'vllm:request_generation_tokens_sum')).toBe(completion);
    expect(value(f, 'vllm:request_prompt_tokens', 'vllm:request_prompt_tokens_sum')).toBe(prompt);
    const inf = value(f, 'vllm:time_to_first_token_seconds', 'vllm:time_to_first_token_seconds_bucket', { le: '+Inf' });
    expect(inf).toBe(n);
    // idle again
    expect(value(f, 'vllm:num_requests_running', 'vllm:num_requests_running')).toBe(0);
    expect(value(f, 'vllm:kv_cache_usage_perc', 'vllm:kv_cache_usage_perc')).toBe(0);
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('shows the load while streams are open', () => {
    const f = parseWithPython(during.vllm);
    const running = value(f, 'vllm:num_requests_running', 'vllm:num_requests_running');
    const waiting = value(f, 'vllm:num_requests_waiting', 'vllm:num_requests_waiting');
    expect(running).toBeGreaterThan(0);
    expect(running + waiting).toBeLessThanOrEqual(12);
    const kv = value(f, 'vllm:kv_cache_usage_perc', 'vllm:kv_cache_usage_perc');
    expect(kv).toBeGreaterThan(0);
    expect(kv).toBeLessThanOrEqual(1);
    expect(value(f, 'vllm:generation_tokens', 'vllm:generation_tokens_total')).toBeGreaterThanOrEqual(12);

    const g = parseWithPython(during.dcgm);
    const labels = { gpu: '0' };
    expect(value(g, 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_UTIL', labels)).toBeGreaterThan(0);
    expect(value(g, 'DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_UTIL', labels)).toBeLessThanOrEqual(100);
    const power = value(g, 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_POWER_USAGE', labels);
    expect(power).toBeGreaterThan(sim.profile.idlePowerWatts);
    expect(power).toBeLessThanOrEqual(sim.profile.tdpWatts);
    // weights (16 GB) are resident, plus the KV blocks of the open streams
    const usedMiB = value(g, 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_USED', labels);
    const idleUsedMiB = value(parseWithPython(after.dcgm), 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_USED', labels);
    expect(idleUsedMiB).toBeGreaterThan(16e9 / 2 ** 20);
    expect(usedMiB).toBeGreaterThan(idleUsedMiB);
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('exposes DCGM exporter families, one series per GPU with its labels', () => {
    const g = parseWithPython(after.dcgm);
    const gauges = [
      'DCGM_FI_DEV_GPU_UTIL',
      'DCGM_FI_DEV_FB_USED',
      'DCGM_FI_DEV_FB_FREE',
      'DCGM_FI_DEV_POWER_USAGE',
      'DCGM_FI_DEV_GPU_TEMP',
      'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
      'DCGM_FI_PROF_SM_ACTIVE',
    ];
    for (const name of gauges) {
      const f = g.get(name);
      expect(f?.type, name).toBe('gauge');
      expect(f!.samples).toHaveLength(1);
      expect(Object.keys(f!.samples[0]!.labels).sort()).toEqual(
        ['DCGM_FI_DRIVER_VERSION', 'Hostname', 'UUID', 'device', 'gpu', 'modelName', 'pci_bus_id'].sort(),
      );
    }
    const total = ['DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_FB_RESERVED'].reduce(
      (s, name) => s + value(g, name, name),
      0,
    );
    expect(total).toBeCloseTo(sim.profile.gpuMemoryBytes / 2 ** 20, -1);
    const sm = value(g, 'DCGM_FI_PROF_SM_ACTIVE', 'DCGM_FI_PROF_SM_ACTIVE');
    expect(sm).toBeGreaterThanOrEqual(0);
    expect(sm).toBeLessThanOrEqual(1);
  });
});

describe(`simulator /gpu/metrics, tp2 profile (${NEEDS_PYTHON})`, () => {
  let sim: SimServer;

  beforeAll(async () => {
    sim = await startSimServer({ profile: 'tp2', speed: 4 });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it.skipIf(!PYTHON_HAS_PROMETHEUS_CLIENT)('shows 2 GPUs with distinct UUIDs and the same work on each', async () => {
    const s = streamChat(sim.url, 'hello '.repeat(300), 30);
    await s.done;
    const origin = sim.url.replace(/\/v1$/, '');
    const g = parseWithPython((await get(`${origin}/gpu/metrics`)).text);
    const util = g.get('DCGM_FI_DEV_GPU_UTIL')!.samples;
    expect(util.map((x) => x.labels.gpu)).toEqual(['0', '1']);
    expect(util.map((x) => x.labels.device)).toEqual(['nvidia0', 'nvidia1']);
    expect(new Set(util.map((x) => x.labels.UUID)).size).toBe(2);
    expect(util[0]!.value).toBeGreaterThan(0);
    expect(util[0]!.value).toBe(util[1]!.value);
    const used = g.get('DCGM_FI_DEV_FB_USED')!.samples.map((x) => x.value);
    expect(used).toHaveLength(2);
    // half of the 16 GB of weights on each GPU
    expect(used[0]!).toBeGreaterThan(8e9 / 2 ** 20);
    expect(used[0]!).toBeLessThan(16e9 / 2 ** 20);
    const f = parseWithPython((await get(`${origin}/metrics`)).text);
    expect(value(f, 'vllm:generation_tokens', 'vllm:generation_tokens_total')).toBe(30);
  });
});
