// Durations as k6 writes them ("500ms", "30s", "5m", "1h30m", "1.5s", "24h", "1d") to seconds,
// and the repair a message can suggest when one is written another way ("30", "5 min").

const MS_PER_UNIT = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type DurationUnit = keyof typeof MS_PER_UNIT;

const NUMBER = String.raw`(?:\d+(?:\.\d+)?|\.\d+)`;
const UNIT = 'ms|s|m|h|d'; // `ms` before `m` so that "500ms" is not read as 500 m + "s"

/** Regular expression source of a duration, shared with the JSON Schema (ECMA-262 syntax). */
export const DURATION_PATTERN = `^(?:${NUMBER}(?:${UNIT}))+$`;

const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = new RegExp(`(${NUMBER})(${UNIT})`, 'g');

/** Seconds in a k6-style duration, or undefined when `text` is not one. */
export function parseDurationS(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) {
    ms += Number(amount) * MS_PER_UNIT[unit as DurationUnit];
  }
  // Summed in milliseconds, divided once: "1.5s" is exactly 1.5 and "100ms" exactly 0.1.
  return ms / 1000;
}

/** Seconds as the shortest k6-style duration: 5400 → "1h30m", 0.25 → "250ms". */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let restMs = Math.round(seconds * 1000);
  let out = '';
  for (const unit of ['h', 'm', 's'] as const) {
    const perUnit = MS_PER_UNIT[unit];
    const whole = Math.floor(restMs / perUnit);
    if (whole > 0) {
      out += `${whole}${unit}`;
      restMs -= whole * perUnit;
    }
  }
  if (restMs > 0) out += `${restMs}ms`;
  return out;
}

const SPELLED_UNITS: ReadonlyArray<[RegExp, DurationUnit]> = [
  [/milliseconds?|millis|msecs?/g, 'ms'],
  [/seconds?|secs?/g, 's'],
  [/minutes?|mins?/g, 'm'],
  [/hours?|hrs?/g, 'h'],
  [/days?/g, 'd'],
];

/**
 * The duration the user most likely meant, when `written` is not valid but close:
 * `30` → "30s", `"5 min"` → "5m", `"1H"` → "1h". Undefined when there is no obvious repair.
 */
export function suggestDuration(written: unknown): string | undefined {
  if (typeof written === 'number') {
    return Number.isFinite(written) && written >= 0 ? `${written}s` : undefined;
  }
  if (typeof written !== 'string') return undefined;
  let text = written.trim().toLowerCase().replace(/\s+/g, '');
  if (/^\d+(?:\.\d+)?$/.test(text)) text += 's';
  for (const [spelled, unit] of SPELLED_UNITS) text = text.replace(spelled, unit);
  return text !== written && DURATION_RE.test(text) ? text : undefined;
}
