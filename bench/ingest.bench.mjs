// Ingest cost: content chunks processed per CPU-second of the client, full path (socket, SSE,
// JSON, stamps, HDR histograms) vs the bare-undici floor reading the same streams in the same
// run. (a) paced: one token per TCP segment at 10 ms ITL, many concurrent streams; (b) coalesced:
// whole responses in one write, many chunks per read. Target: full path >= 80 % of the floor.
import { long, report } from './lib.mjs';
import { driveBare, driveFull, pinSelf, startServer } from './driver.mjs';

const pinned = pinSelf(0);
const server = await startServer({ core: 1 });
const durationS = long ? 30 : 8;
const cases = [
  { name: 'paced', headers: { 'x-bench-mode': 'paced', 'x-bench-itl-ms': '10' }, tokens: 200, concurrency: 200 },
  { name: 'coalesced', headers: { 'x-bench-mode': 'coalesced' }, tokens: 1000, concurrency: 16 },
];
try {
  for (const c of cases) {
    const params = { tokens: c.tokens, concurrency: c.concurrency, duration_s: durationS, pinned };
    // warm both paths (JIT) before measuring
    await driveBare({ url: server.url, ...c, durationS: 1 });
    await driveFull({ url: server.url, ...c, durationS: 1 });
    await driveFull({ url: server.url, ...c, durationS: 1, transport: 'undici' });
    const bare = await driveBare({ url: server.url, ...c, durationS });
    const full = await driveFull({ url: server.url, ...c, durationS });
    // the same full path over undici instead of the native HTTP/1.1 transport (h1.ts)
    const viaUndici = await driveFull({ url: server.url, ...c, durationS, transport: 'undici' });
    const floor = bare.chunks / bare.cpuS;
    const ours = full.chunks / full.cpuS;
    report({ bench: `ingest_${c.name}_floor`, value: Math.round(floor), unit: 'chunks/cpu-s', better: 'higher', params: { ...params, client: 'bare undici', cpu_ratio: +(bare.cpuS / bare.wallS).toFixed(2) } });
    report({ bench: `ingest_${c.name}_full`, value: Math.round(ours), unit: 'chunks/cpu-s', better: 'higher', params: { ...params, client: 'inferload', cpu_ratio: +(full.cpuS / full.wallS).toFixed(2), failed: full.failed } });
    report({ bench: `ingest_${c.name}_full_undici`, value: Math.round(viaUndici.chunks / viaUndici.cpuS), unit: 'chunks/cpu-s', better: 'higher', params: { ...params, client: 'inferload over undici', failed: viaUndici.failed } });
    report({ bench: `ingest_${c.name}_native_vs_undici`, value: +(ours / (viaUndici.chunks / viaUndici.cpuS)).toFixed(3), unit: 'x', better: 'higher', params });
    report({ bench: `ingest_${c.name}_ratio`, value: +(ours / floor).toFixed(3), unit: 'x floor', better: 'higher', target: 0.8, params });
  }
} finally {
  await server.close();
}
