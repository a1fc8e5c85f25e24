// Dataset streaming: a ShareGPT-format file of a few hundred MB (700 MB with --long: larger than
// V8's longest string, as the real ShareGPT V3 file is) loaded the way a run loads it: streamed
// with stream-json, every conversation checked, a seeded sample of 1000 counted and kept. Reports
// bytes per second and the loading process's peak RSS (VmHWM), which must stay bounded whatever
// the file's size. The file is generated once into the temp directory and reused.
// Usage: npm run bench -- dataset [--long] [--mb N]
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, long, report } from './lib.mjs';

const SAMPLE = 1000;

if (args[0] === '--load') {
  // the child: load the file and print the figures (a fresh process, so VmHWM is the load's alone)
  const { loadDataset } = await import('../dist/workload/dataset.js');
  const { approximateTokenizer } = await import('../dist/workload/tokenizer.js');
  const path = args[1];
  const started = performance.now();
  const ds = await loadDataset(
    { format: 'sharegpt', path, minPromptTokens: 4, maxPromptTokens: 4096, minOutputTokens: 4, maxOutputTokens: 4096, maxEntries: 10_000, outputTokens: 'dataset' },
    { tokenizer: approximateTokenizer('chat'), seed: 1, sampleSize: SAMPLE, promptTokens: { dist: 'fixed', value: 128 } },
  );
  const seconds = (performance.now() - started) / 1000;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ seconds, info: ds.info, peakRss: hwm ? Number(hwm[1]) * 1024 : process.memoryUsage.rss() }) + '\n');
  process.exit(0);
}

const mbArg = args.indexOf('--mb');
const targetMb = mbArg !== -1 ? Number(args[mbArg + 1]) : long ? 700 : 300;
const file = join(tmpdir(), `inferload-bench-sharegpt-${targetMb}mb.json`);
if (!existsSync(file)) await generate(file, targetMb * 1e6);
const bytes = statSync(file).size;

const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--load', file], { encoding: 'utf8', maxBuffer: 16 << 20 });
if (child.status !== 0) {
  process.stderr.write(child.stderr);
  process.exit(1);
}
const out = JSON.parse(child.stdout.trim().split('\n').pop());
const params = { file_mb: Math.round(bytes / 1e6), entries: out.info.entries, counted: out.info.counted, sampled: out.info.sampled, seconds: +out.seconds.toFixed(2) };
report({ bench: 'dataset_sharegpt_throughput', value: +(bytes / 1e6 / out.seconds).toFixed(1), unit: 'MB/s', better: 'higher', params });
report({ bench: 'dataset_sharegpt_peak_rss', value: Math.round(out.peakRss / 1e6), unit: 'MB', better: 'lower', target: 400, params });

/**
 * A ShareGPT-like file: conversations of 1 to 4 exchanges, prompts of 10-300 words and replies of
 * 50-650, with escapes and non-ASCII text as the real file has; written as it goes.
 */
async function generate(path, size) {
  const words = 'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(' ');
  let s = 12345;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const text = (n) => {
    const a = [];
    for (let i = 0; i < n; i++) {
      a.push(words[(rnd() * words.length) | 0]);
      if (rnd() < 0.05) a.push('"quoted"\n');
      if (rnd() < 0.01) a.push('émoji 🚀');
    }
    return a.join(' ');
  };
  const partial = `${path}.partial`;
  const out = createWriteStream(partial);
  let written = 0;
  const write = async (x) => {
    written += Buffer.byteLength(x);
    if (!out.write(x)) await new Promise((r) => out.once('drain', r));
  };
  await write('[');
  for (let i = 0; written < size; i++) {
    const turns = [];
    const exchanges = 1 + ((rnd() * 4) | 0);
    for (let t = 0; t < exchanges; t++) {
      turns.push({ from: 'human', value: text(10 + ((rnd() * 290) | 0)) });
      turns.push({ from: 'gpt', value: text(50 + ((rnd() * 600) | 0)) });
    }
    await write(`${i ? ',' : ''}\n  ${JSON.stringify({ id: `c${i}`, conversations: turns })}`);
  }
  await write('\n]\n');
  out.end();
  await new Promise((r) => out.on('finish', r));
  renameSync(partial, path);
}
