// Exposition parser speed: a ~1 MB exposition built from the real captures in
// test/fixtures/metrics (each family's samples repeated with a `replica` label, families kept
// contiguous; a capture whose names another capture already used gets a `cN_` name prefix so the
// whole stays one valid exposition), parsed N times. Target: well under 50 ms per MB (issue 4).
// Also parse + snapshotSignals, what the scraper does every second.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { report, long } from './lib.mjs';
import { parseExposition, snapshotSignals } from '../dist/scrape/index.js';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/metrics/', import.meta.url));
const TARGET_BYTES = 1024 * 1024;

/** Adds `replica="i"` to a sample line (first label, so `le` etc. keep their place). */
function withReplica(line, i) {
  const brace = line.indexOf('{');
  const space = line.search(/[ \t]/);
  if (brace >= 0 && (space < 0 || brace < space)) return `${line.slice(0, brace + 1)}replica="${i}",${line.slice(brace + 1)}`;
  return `${line.slice(0, space)}{replica="${i}"}${line.slice(space)}`;
}

/** One capture, each family block's samples repeated `copies` times with distinct labels. */
function amplify(text, copies) {
  const out = [];
  let samples = [];
  const flush = () => {
    for (let i = 0; i < copies; i++) for (const s of samples) out.push(withReplica(s, i));
    samples = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      if (samples.length > 0) flush();
      out.push(line);
    } else {
      samples.push(line);
    }
  }
  flush();
  return out.join('\n') + '\n';
}

if (!existsSync(FIXTURES)) {
  process.stderr.write(`scrape-parse: fixtures not found at ${FIXTURES}\n`);
  process.exit(1);
}
/** The metric names a capture uses (sample names and metadata names). */
function namesOf(text) {
  const names = new Set();
  for (const line of text.split('\n')) {
    const m = line.startsWith('#') ? /^#\s*(?:HELP|TYPE|UNIT)\s+(\S+)/.exec(line) : /^([^{\s]+)/.exec(line);
    if (m) names.add(m[1].replace(/_(bucket|sum|count|total|created)$/, ''));
  }
  return names;
}

/** Prefixes every metric name of a capture (sample lines and metadata lines). */
function prefixed(text, prefix) {
  return text
    .split('\n')
    .map((l) => (l.startsWith('#') ? l.replace(/^(#\s*(?:HELP|TYPE|UNIT)\s+)/, `$1${prefix}`) : l.trim() === '' ? l : prefix + l))
    .join('\n');
}

const taken = new Set();
const captures = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.prom'))
  .sort()
  .map((f, k) => {
    const text = readFileSync(FIXTURES + f, 'utf8') + '\n';
    const names = namesOf(text);
    const clash = [...names].some((n) => taken.has(n));
    for (const n of names) taken.add(clash ? `c${k}_${n}` : n);
    return clash ? prefixed(text, `c${k}_`) : text;
  });
const baseBytes = captures.reduce((n, t) => n + Buffer.byteLength(t), 0);
const copies = Math.max(1, Math.ceil(TARGET_BYTES / baseBytes));
const text = captures.map((t) => amplify(t, copies)).join('');
const bytes = Buffer.byteLength(text);
const mb = bytes / (1024 * 1024);

const check = parseExposition(text);
if (check.problems.length > 0) {
  process.stderr.write(`scrape-parse: the bench input has problems: ${JSON.stringify(check.problems.slice(0, 3))}\n`);
  process.exit(1);
}
const samples = check.families.reduce((n, f) => n + f.samples.length, 0);

/**
 * The approach of the npm exposition parsers, for comparison only: split into lines, one regex per
 * sample line and one per label. Handles only what the bench input needs (no metadata semantics).
 */
const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(\S+))?\s*$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
function regexParse(input) {
  const families = new Map();
  for (const line of input.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL_RE)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const sample = { name: m[1], labels, value: parseFloat(m[3]) };
    const list = families.get(m[1]);
    if (list) list.push(sample);
    else families.set(m[1], [sample]);
  }
  return families;
}

function timeIt(fn, iterations) {
  for (let i = 0; i < Math.min(20, iterations); i++) fn(); // warm up the JIT
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / iterations;
}

const iterations = long ? 500 : 100;
const parseMs = timeIt(() => parseExposition(text), iterations);
const withSignalsMs = timeIt(() => snapshotSignals(parseExposition(text)), iterations);
const regexMs = timeIt(() => regexParse(text), iterations);
const params = { bytes, samples, families: check.families.length, iterations, node: process.version };

report({ bench: 'scrape_parse_ms_per_mb', value: parseMs / mb, unit: 'ms/MB', better: 'lower', target: 50, params });
report({ bench: 'scrape_parse_mb_per_s', value: mb / (parseMs / 1000), unit: 'MB/s', better: 'higher', target: 20, params });
report({ bench: 'scrape_parse_speedup_vs_regex', value: regexMs / parseMs, unit: 'x (regex-per-line ms / ours)', better: 'higher', target: 1, params: { ...params, regex_ms_per_mb: regexMs / mb } });
report({ bench: 'scrape_parse_signals_ms_per_mb', value: withSignalsMs / mb, unit: 'ms/MB', better: 'lower', target: 50, params });
