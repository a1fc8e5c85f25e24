// target.prometheus as a scenario writes it: a URL or a mapping, parsed to the PromQL source's
// options; every refusal says what was expected, and a URL's secrets never reach a message.
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { parsePrometheusFlag, prometheusTargetSchema } from '../../../src/config/prometheus-schema.js';

/** The field as targetSchema will hold it. */
const target = z.strictObject({ prometheus: prometheusTargetSchema().optional() });

/** Every message of a refusal, the union's matching branch's as the loader picks it. */
function messages(value: unknown): string[] {
  const r = target.safeParse({ prometheus: value });
  expect(r.success).toBe(false);
  const out: string[] = [];
  const walk = (issues: readonly z.core.$ZodIssue[]): void => {
    for (const i of issues) {
      if (i.code === 'invalid_union') {
        const matching = i.errors.filter((b) => !b.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
        if (matching.length === 1) {
          walk(matching[0]!);
          continue;
        }
      }
      out.push(i.message);
    }
  };
  walk(r.success ? [] : r.error.issues);
  return out;
}

describe('target.prometheus', () => {
  it('a URL alone takes every default', () => {
    expect(target.parse({ prometheus: 'http://prom:9090' }).prometheus).toEqual({ url: 'http://prom:9090', selector: '', intervalS: 5, replicaLabel: 'instance' });
    expect(target.parse({}).prometheus).toBeUndefined();
  });

  it('a mapping: selector re-rendered, durations in seconds', () => {
    const p = target.parse({
      prometheus: { url: 'https://u:p@prom.example/prometheus', selector: " {namespace='prod', job=~\"vllm-.*\"} ", interval: '10s', replicaLabel: 'pod', scrapeInterval: '15s', timeout: '2s' },
    }).prometheus;
    expect(p).toEqual({
      url: 'https://u:p@prom.example/prometheus',
      selector: '{namespace="prod",job=~"vllm-.*"}',
      intervalS: 10,
      replicaLabel: 'pod',
      scrapeIntervalS: 15,
      timeoutS: 2,
    });
  });

  it.each([
    [{ url: 'http://p:9090', selector: 'vllm:x{job="a"}' }, /expected a label selector .*: expected no metric name before the braces/],
    [{ url: 'http://p:9090', selector: '{job="a" pod="b"}' }, /expected a comma or the end after job/],
    [{ url: 'http://p:9090', interval: '100ms' }, /a duration from 1s to 24d, found "100ms".*write 1s or more/],
    [{ url: 'http://p:9090', interval: 5 }, /add a unit, e.g. "5s"/],
    [{ url: 'http://p:9090', replicaLabel: 'pod-name' }, /a Prometheus label name like "instance"/],
    [{ url: 'ftp://p' }, /an http\(s\) URL of a Prometheus server/],
    [42, /a URL, or a mapping like/],
  ])('refuses %j', (value, message) => {
    expect(messages(value).join('\n')).toMatch(message);
  });

  it('an unknown key is refused', () => {
    const r = target.safeParse({ prometheus: { url: 'http://p:9090', selecter: '{}' } });
    expect(r.success).toBe(false);
  });

  it('a refused URL is echoed with its secrets masked', () => {
    const all = messages('http//user:hunter2secret@prom?key=sk-abcdef').join('\n') + messages({ url: 'ftp://user:hunter2secret@prom' }).join('\n');
    expect(all).not.toContain('hunter2secret');
    expect(all).not.toContain('sk-abcdef');
    // nor in any branch of the union the loader does not show
    const raw = JSON.stringify(target.safeParse({ prometheus: 'http//user:hunter2secret@prom?key=sk-abcdef' }).error);
    expect(raw).not.toContain('hunter2secret');
  });

  it('--prometheus URL', () => {
    expect(parsePrometheusFlag('http://prom:9090')).toEqual({ ok: true, value: { url: 'http://prom:9090', selector: '', intervalS: 5, replicaLabel: 'instance' } });
    const bad = parsePrometheusFlag('prom:9090');
    expect(bad.ok).toBe(false);
  });

  it('has a JSON Schema for editors (input side)', () => {
    const schema = z.toJSONSchema(target, { io: 'input', target: 'draft-07' }) as unknown as { properties: { prometheus: { anyOf: unknown[] } } };
    expect(schema.properties.prometheus.anyOf).toHaveLength(2);
    expect(JSON.stringify(schema)).toContain('replicaLabel');
  });
});
