import { test } from 'vitest';
import { scenarioSchema, renderScenarioJsonSchema } from '../../../src/config/schema.js';
test('scratch', () => {
  console.log(renderScenarioJsonSchema().slice(0, 6000));
  const r = scenarioSchema.safeParse({ name: 'x y', warmup: 30, load: { executor: 'constant-vus', vus: 0, duration: '5 min', rate: 3, gracefullStop: '1s' }, slo: { ttft_ms: ['p95<500ms', { threshold: 'avg<1', abortOnFail: 'true' }], error_ratio: ['p(95)<1'], ttft: [] }, workload: { promptTokens: { dist: 'gauss' }, outputTokens: { dist: 'uniform', min: 10, max: 5 } } }, { reportInput: true });
  console.log(JSON.stringify(r.error?.issues.map(i => ({ code: i.code, path: i.path, message: i.message, errors: (i as any).errors?.map((b: any) => b.map((e: any) => [e.code, e.path, e.message])) })), null, 1));
  const ok = scenarioSchema.safeParse({ name: 'x', load: { executor: 'constant-arrival-rate', rate: 5, duration: '5s' } });
  console.log(JSON.stringify(ok, null, 1));
});
