// `target.prometheus` (and `--prometheus URL`): where the server and GPU signals come from when a
// Prometheus server already scrapes the deployment (src/scrape/promql.ts). A URL, or a mapping:
//
//   prometheus:
//     url: http://prometheus.monitoring:9090
//     selector: '{namespace="prod",job="vllm"}'   # the deployment's series (default: all)
//     interval: 5s                                 # between query rounds (default 5s)
//     replicaLabel: instance                       # tells replicas apart (default instance)
//     scrapeInterval: 15s                          # Prometheus's own; default: asked of it
//     timeout: 5s                                  # one query (default: the interval, at most 5s)
//
// Its output is promql.ts's PrometheusTarget (durations in seconds, the selector re-rendered).
import * as z from 'zod';
import { parseTarget } from '../core/secret.js';
import { isLabelName, parseSelector, selectorText, SelectorError } from '../scrape/promql-query.js';
import type { PrometheusTarget } from '../scrape/promql.js';
import { DURATION_PATTERN, parseDurationS } from './duration.js';
import { describeFound } from './messages.js';

/** The fewest seconds between query rounds: a round is a few dozen queries. */
export const MIN_PROMQL_INTERVAL_S = 1;
/** Every duration, at most 24 days (schema.ts's MAX_DURATION_S: Node's timers). */
const MAX_S = 24 * 86_400;
const DURATION_RE = new RegExp(DURATION_PATTERN);
const URL_WHAT = 'an http(s) URL of a Prometheus server like "http://prometheus:9090"';
const EXAMPLE = `{url: http://prometheus:9090, selector: '{namespace="prod",job="vllm"}'}`;

function expectedFound(what: string, found: unknown, fix?: string): string {
  if (found === undefined) return `required: expected ${what}`;
  return `expected ${what}, found ${describeFound(found)}${fix ? `: ${fix}` : ''}`;
}

/** A URL's secrets masked before it is echoed (a refusal reaches CI logs). */
function masked(text: string): string {
  try {
    return parseTarget(text).display;
  } catch {
    return text.replace(/(\/\/[^/@]*?:)[^/@]*@/, '$1***@').replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
  }
}

function url() {
  return z
    .url({
      protocol: /^https?$/,
      error: (issue: { readonly input?: unknown }) => expectedFound(URL_WHAT, typeof issue.input === 'string' ? masked(issue.input) : issue.input),
    })
    .describe('the Prometheus server (base URL; a user and password in it go as HTTP Basic and are masked in every output)');
}

function duration(what: string, min: number) {
  const error = (issue: { readonly input?: unknown }): string =>
    expectedFound(`${what} like "5s"`, issue.input, typeof issue.input === 'number' ? `add a unit, e.g. "${issue.input}s"` : undefined);
  return z
    .string({ error })
    .regex(DURATION_RE, { error })
    .transform((written, ctx) => {
      const s = parseDurationS(written) ?? Number.NaN;
      if (!(s >= min) || s > MAX_S)
        ctx.addIssue({ code: 'custom', input: written, message: expectedFound(`a duration from ${min}s to 24d`, written, s < min ? `write ${min}s or more` : undefined) });
      return s;
    });
}

function selector() {
  return z
    .string({ error: (issue) => expectedFound(`a label selector like '{namespace="prod",job="vllm"}'`, issue.input) })
    .transform((written, ctx) => {
      try {
        return selectorText(parseSelector(written));
      } catch (err) {
        if (!(err instanceof SelectorError)) throw err;
        ctx.addIssue({ code: 'custom', input: written, message: expectedFound(`a label selector like '{namespace="prod",job="vllm"}'`, written, `expected ${err.message}`) });
        return z.NEVER;
      }
    })
    .describe('PromQL label matchers that pick the deployment\'s series, like {namespace="prod",job="vllm"} (default: every series)');
}

function replicaLabel() {
  return z
    .string({ error: (issue) => expectedFound('a Prometheus label name like "instance" or "pod"', issue.input) })
    .refine(isLabelName, { error: (issue) => expectedFound('a Prometheus label name like "instance" or "pod"', issue.input) })
    .describe('the label that tells replicas apart (default instance)');
}

const mapping = z
  .strictObject(
    {
      url: url(),
      selector: selector().prefault(''),
      interval: duration('a duration of at least 1s', MIN_PROMQL_INTERVAL_S).prefault('5s').describe('time between query rounds (default 5s)'),
      replicaLabel: replicaLabel().prefault('instance'),
      scrapeInterval: duration('a duration', 0.001)
        .describe("Prometheus's own scrape interval of the deployment (sets the rate window); default: read from Prometheus's targets")
        .optional(),
      timeout: duration('a duration', 0.1).describe('one query at most (default: the interval, at most 5s)').optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? undefined
          : expectedFound(`a URL, or a mapping like ${EXAMPLE}`, typeof issue.input === 'string' ? masked(issue.input) : issue.input),
    },
  )
  .transform(
    (m): PrometheusTarget => ({
      url: m.url,
      selector: m.selector,
      intervalS: m.interval,
      replicaLabel: m.replicaLabel,
      ...(m.scrapeInterval !== undefined && { scrapeIntervalS: m.scrapeInterval }),
      ...(m.timeout !== undefined && { timeoutS: m.timeout }),
    }),
  );

/**
 * The schema of `target.prometheus`: a URL (every default) or a mapping; parses to
 * {@link PrometheusTarget}. Plug in as `prometheus: prometheusTargetSchema().optional()`.
 */
export function prometheusTargetSchema() {
  return z
    .union([url().transform((u): PrometheusTarget => ({ url: u, selector: '', intervalS: 5, replicaLabel: 'instance' })), mapping], {
      error: (issue) => {
        const input = (issue as { input?: unknown }).input;
        // a mapping's own problems are reported on its fields; only a wrong type lands here
        return expectedFound(`a URL, or a mapping like ${EXAMPLE}`, typeof input === 'string' ? masked(input) : input);
      },
    })
    .describe('server and GPU signals from this Prometheus server (PromQL) instead of scraping target.metrics; a URL or a mapping');
}

/** `--prometheus URL` alone: the URL's checks, every default; the problem's message, or the target. */
export function parsePrometheusFlag(text: string): { ok: true; value: PrometheusTarget } | { ok: false; message: string } {
  const r = url().safeParse(text);
  if (!r.success) return { ok: false, message: r.error.issues[0]?.message ?? expectedFound(URL_WHAT, masked(text)) };
  return { ok: true, value: { url: r.data, selector: '', intervalS: 5, replicaLabel: 'instance' } };
}
