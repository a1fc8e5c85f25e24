// The exposition parser: Prometheus text format 0.0.4 and OpenMetrics 1.0 text → metric families,
// plus every malformed line as a problem (line number + message). Never throws.
//
// Hand-written on purpose: one pass over the string with char codes, no per-line split or regex,
// because the scraper parses every endpoint every second during a run, on the same event loop as
// the load. bench/scrape-parse.bench.mjs: ~9 ms per MB, about twice as fast as a regex-per-line
// parser that checks far less. The npm parsers are regex-per-line, unmaintained, and reject
// OpenMetrics (issue 4).
//
// Two modes. Lenient (default): what real servers emit (blank lines, tabs, runs of spaces, trailing
// commas, counters without `_total`, `#HELP` without a space) is accepted; only lines that cannot be
// read are problems. Strict (format 'openmetrics' asked for explicitly): OpenMetrics 1.0 as its
// official parser test set reads it (test/unit/scrape/conformance.test.ts): exact spacing, `# EOF`,
// metadata placement, family grouping, histogram/summary/info/stateset rules, exemplar rules.

/** The two text formats. */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** Metric family types (Prometheus `untyped` is reported as `unknown`, as OpenMetrics names it). */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'gaugehistogram' | 'summary' | 'info' | 'stateset' | 'unknown';

/** An OpenMetrics exemplar: `# {trace_id="x"} 1.0 1.6e9` after a sample. */
export interface Exemplar {
  labels: Record<string, string>;
  value: number;
  /** exemplar timestamps are seconds in the text; converted to ms */
  timestampMs?: number;
}

/** One sample line. */
export interface Sample {
  /** the full sample name as written, e.g. `vllm:prompt_tokens_total`, `x_bucket` */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** the optional timestamp, in ms since the epoch (0.0.4 writes ms, OpenMetrics seconds) */
  timestampMs?: number;
  exemplar?: Exemplar;
}

/** A metric family: metadata plus its samples in exposition order. */
export interface MetricFamily {
  /** the name from its metadata (as written: 0.0.4 counters often keep `_total`), or the sample name when there is none */
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  samples: Sample[];
}

/** A line that breaks the format. `line` is 1-based. */
export interface ParseProblem {
  line: number;
  message: string;
}

/** What {@link parseExposition} returns. */
export interface ParseResult {
  format: ExpositionFormat;
  /** true when OpenMetrics strict rules were applied */
  strict: boolean;
  families: MetricFamily[];
  problems: ParseProblem[];
}

/** Options of {@link parseExposition}. */
export interface ParseOptions {
  /** 'auto' (default): OpenMetrics when the content type says so or the text ends with `# EOF` */
  format?: 'auto' | ExpositionFormat;
  /** the HTTP Content-Type the text came with, for auto-detection */
  contentType?: string;
  /** OpenMetrics strict validation; default: true exactly when `format: 'openmetrics'` is given */
  strict?: boolean;
  /** stop listing problems after this many (a final entry says how many more); default 1000 */
  maxProblems?: number;
}

/** Picks the format from the content type, else from a final `# EOF` line. */
export function detectFormat(text: string, contentType?: string): ExpositionFormat {
  if (contentType !== undefined && /application\/openmetrics-text/i.test(contentType)) return 'openmetrics';
  let e = text.length;
  while (e > 0) {
    const c = text.charCodeAt(e - 1);
    if (c !== LF && c !== CR && c !== SP && c !== TAB) break;
    e--;
  }
  return e >= 5 && text.startsWith('# EOF', e - 5) && (e === 5 || text.charCodeAt(e - 6) === LF) ? 'openmetrics' : 'prometheus';
}

/** Parses one exposition. Never throws: malformed lines become problems and are skipped. */
export function parseExposition(text: string, options: ParseOptions = {}): ParseResult {
  const format = options.format === undefined || options.format === 'auto' ? detectFormat(text, options.contentType) : options.format;
  const strict = format === 'openmetrics' && (options.strict ?? options.format === 'openmetrics');
  const p = new Parser(String(text), format, strict, options.maxProblems ?? 1000);
  try {
    p.run();
  } catch (err) {
    // Defensive: a bug must cost a problem entry, never the caller's scrape loop.
    p.problem(p.lineNo, `internal parser error: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { format, strict, families: p.families.map((f) => f.fam), problems: p.problems };
}

// ---------------------------------------------------------------------------------------------

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;
const HASH = 35;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const EQUALS = 61;
const COMMA = 44;

const METRIC_TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);

/** Which sample-name suffixes belong to a family of each type (OpenMetrics rules). */
const OM_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};
/** Lenient: also counters without `_total` and info samples without `_info` (0.0.4 has neither rule). */
const LENIENT_SUFFIXES: Record<MetricType, readonly string[]> = {
  ...OM_SUFFIXES,
  counter: ['', '_total', '_created'],
  info: ['', '_info'],
};
const STRIPPABLE = ['_total', '_created', '_bucket', '_count', '_sum', '_gcount', '_gsum', '_info'];
const COUNTER_LIKE = new Set(['_total', '_sum', '_count', '_bucket', '_gcount', '_gsum']);

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isMetricNameStart = (c: number): boolean => isAlpha(c) || c === 95 || c === 58;
const isMetricNameChar = (c: number): boolean => isMetricNameStart(c) || isDigit(c);
const isLabelNameStart = (c: number): boolean => isAlpha(c) || c === 95;
const isLabelNameChar = (c: number): boolean => isLabelNameStart(c) || isDigit(c);
const isBlank = (c: number): boolean => c === SP || c === TAB;

/** Sets a label; `__proto__` must stay an own property, not a prototype change. */
function setLabel(labels: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  else labels[name] = value;
}

/** Parses a number token in [a, b); undefined when it is not one. OpenMetrics ABNF when strict. */
function parseNumber(s: string, a: number, b: number, strict: boolean, allowSpecial: boolean): number | undefined {
  if (a >= b) return undefined;
  let i = a;
  let c = s.charCodeAt(i);
  const signed = c === 43 || c === 45; // + -
  if (signed) {
    i++;
    if (i >= b) return undefined;
    c = s.charCodeAt(i);
  }
  if (isDigit(c) || c === 46) {
    let mantissaDigits = 0;
    while (i < b && isDigit(s.charCodeAt(i))) {
      i++;
      mantissaDigits++;
    }
    if (i < b && s.charCodeAt(i) === 46) {
      i++;
      while (i < b && isDigit(s.charCodeAt(i))) {
        i++;
        mantissaDigits++;
      }
    }
    if (mantissaDigits === 0) return undefined;
    if (i < b && (s.charCodeAt(i) | 32) === 101) {
      // e / E
      i++;
      if (i < b && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) i++;
      let expDigits = 0;
      while (i < b && isDigit(s.charCodeAt(i))) {
        i++;
        expDigits++;
      }
      if (expDigits === 0) return undefined;
    }
    if (i !== b) return undefined;
    return Number(s.slice(a, b));
  }
  if (!allowSpecial) return undefined;
  const word = s.slice(i, b).toLowerCase();
  if (word === 'inf' || word === 'infinity') return s.charCodeAt(a) === 45 ? -Infinity : Infinity;
  if (word === 'nan' && (!signed || !strict)) return NaN;
  return undefined;
}

/** HELP text unescaping: `\\` `\n` `\"`; any other escape is kept as written. */
function unescapeHelp(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '\\' || i + 1 >= s.length) {
      out += ch;
      continue;
    }
    const next = s[++i]!;
    out += next === 'n' ? '\n' : next === '\\' ? '\\' : next === '"' ? '"' : '\\' + next;
  }
  return out;
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // low surrogates continue a code point
  }
  return n;
}

/** A family being built, with the state strict mode needs. */
interface FamilyState {
  fam: MetricFamily;
  firstLine: number;
  typeSet: boolean;
  helpSet: boolean;
  unitSet: boolean;
  /** line of each sample (strict histogram checks report it) */
  sampleLines: number[] | null;
  group: string | undefined;
  groupTs: number | undefined;
  seenGroups: Set<string> | null;
}

/** A malformed line. Not an Error on purpose: no stack trace is captured per bad line of garbage input. */
class ParseError {
  constructor(readonly message: string) {}
}

class Parser {
  readonly families: FamilyState[] = [];
  readonly problems: ParseProblem[] = [];
  lineNo = 0;
  private readonly byName = new Map<string, FamilyState>();
  private current: FamilyState | null = null;
  private suppressed = 0;
  private pos = 0;
  private end = 0;
  private readonly suffixes: Record<MetricType, readonly string[]>;

  constructor(
    private readonly s: string,
    private readonly format: ExpositionFormat,
    private readonly strict: boolean,
    private readonly maxProblems: number,
  ) {
    this.suffixes = strict ? OM_SUFFIXES : LENIENT_SUFFIXES;
  }

  problem(line: number, message: string): void {
    if (this.problems.length < this.maxProblems) this.problems.push({ line, message });
    else this.suppressed++;
  }

  run(): void {
    const s = this.s;
    const len = s.length;
    const om = this.format === 'openmetrics';
    let start = 0;
    let eofLine = 0;
    // A byte-order mark is not part of the first line.
    if (len > 0 && s.charCodeAt(0) === 0xfeff && !this.strict) start = 1;
    while (start < len) {
      const nl = s.indexOf('\n', start);
      let end = nl < 0 ? len : nl;
      this.lineNo++;
      const lineStart = start;
      start = end + 1;
      if (eofLine > 0) {
        this.problem(this.lineNo, 'text after "# EOF"');
        break;
      }
      if (!this.strict && end > lineStart && s.charCodeAt(end - 1) === CR) end--;
      if (end === lineStart) {
        if (this.strict) this.problem(this.lineNo, 'blank line (not allowed in OpenMetrics)');
        continue;
      }
      this.pos = lineStart;
      this.end = end;
      try {
        let c = s.charCodeAt(lineStart);
        if (!this.strict && isBlank(c)) {
          this.skipBlanks();
          if (this.pos === end) continue; // whitespace-only line
          c = s.charCodeAt(this.pos);
        }
        if (c === HASH) {
          if (om && end - this.pos === 5 && s.startsWith('# EOF', this.pos)) {
            eofLine = this.lineNo;
            continue;
          }
          this.metadataLine();
        } else {
          this.sampleLine();
        }
      } catch (err) {
        if (err instanceof ParseError) this.problem(this.lineNo, err.message);
        else throw err;
      }
    }
    if (this.strict) this.finishStrict(eofLine);
    if (this.suppressed > 0) this.problems.push({ line: this.lineNo, message: `${this.suppressed} more problems not listed` });
  }

  // ----- metadata ---------------------------------------------------------------------------

  private metadataLine(): void {
    const s = this.s;
    const end = this.end;
    let keyword: string;
    if (this.strict) {
      if (s.charCodeAt(this.pos + 1) !== SP) throw new ParseError('invalid comment line: expected "# HELP", "# TYPE", "# UNIT" or "# EOF"');
      let kwEnd = this.pos + 2;
      while (kwEnd < end && s.charCodeAt(kwEnd) !== SP) kwEnd++;
      if (kwEnd >= end) throw new ParseError('invalid metadata line: expected "# KEYWORD name text"');
      keyword = s.slice(this.pos + 2, kwEnd);
      if (keyword !== 'HELP' && keyword !== 'TYPE' && keyword !== 'UNIT') throw new ParseError(`invalid metadata keyword "${keyword}" (expected HELP, TYPE or UNIT)`);
      this.pos = kwEnd + 1;
    } else {
      this.pos++;
      this.skipBlanks();
      const kwStart = this.pos;
      while (this.pos < end && !isBlank(s.charCodeAt(this.pos))) this.pos++;
      keyword = s.slice(kwStart, this.pos);
      if (keyword !== 'HELP' && keyword !== 'TYPE' && keyword !== 'UNIT') return; // a plain comment
      if (this.pos === end) throw new ParseError(`# ${keyword} without a metric name`);
      this.skipBlanks();
    }
    const name = this.metricNameToken();
    if (name === undefined) throw new ParseError(`# ${keyword}: invalid or missing metric name`);
    let rest: string;
    if (this.strict) {
      if (this.pos >= end || s.charCodeAt(this.pos) !== SP) throw new ParseError(`# ${keyword} ${name}: expected a space and a value after the name`);
      rest = s.slice(this.pos + 1, end);
    } else {
      if (this.pos < end && !isBlank(s.charCodeAt(this.pos))) throw new ParseError(`# ${keyword}: invalid metric name`);
      this.skipBlanks();
      let e = end;
      while (e > this.pos && isBlank(s.charCodeAt(e - 1))) e--;
      rest = s.slice(this.pos, e);
    }

    const st = this.familyForMetadata(name);
    switch (keyword) {
      case 'HELP':
        if (st.helpSet) throw new ParseError(`second HELP line for ${name}`);
        st.helpSet = true;
        st.fam.help = unescapeHelp(rest);
        break;
      case 'UNIT':
        if (st.unitSet) throw new ParseError(`second UNIT line for ${name}`);
        st.unitSet = true;
        st.fam.unit = rest;
        break;
      default: {
        if (st.typeSet) throw new ParseError(`second TYPE line for ${name}`);
        let type = rest;
        if (type === 'untyped') {
          if (this.strict) throw new ParseError(`# TYPE ${name}: "untyped" is not an OpenMetrics type (use "unknown")`);
          type = 'unknown';
        } else if (!this.strict) {
          type = type.toLowerCase();
        }
        if (!METRIC_TYPES.has(type)) throw new ParseError(`# TYPE ${name}: unknown type "${rest}"`);
        if (st.fam.samples.length > 0 && !this.strict) throw new ParseError(`# TYPE ${name} after its samples`);
        st.typeSet = true;
        st.fam.type = type as MetricType;
      }
    }
  }

  private familyForMetadata(name: string): FamilyState {
    let st = this.byName.get(name);
    if (st === undefined) {
      st = this.newFamily(name, 'unknown');
    } else if (this.strict) {
      if (st !== this.current) throw new ParseError(`metadata for ${name} after another family began (families must be contiguous)`);
      if (st.fam.samples.length > 0) throw new ParseError(`metadata for ${name} after its samples`);
    }
    this.current = st;
    return st;
  }

  private newFamily(name: string, type: MetricType): FamilyState {
    const st: FamilyState = {
      fam: { name, type, help: '', unit: '', samples: [] },
      firstLine: this.lineNo,
      typeSet: false,
      helpSet: false,
      unitSet: false,
      sampleLines: this.strict ? [] : null,
      group: undefined,
      groupTs: undefined,
      seenGroups: this.strict ? new Set() : null,
    };
    this.byName.set(name, st);
    this.families.push(st);
    return st;
  }

  // ----- samples ----------------------------------------------------------------------------

  private sampleLine(): void {
    const s = this.s;
    const end = this.end;
    const strict = this.strict;
    let name: string | undefined;
    const c0 = s.charCodeAt(this.pos);
    if (isMetricNameStart(c0)) {
      const a = this.pos;
      this.pos++;
      while (this.pos < end && isMetricNameChar(s.charCodeAt(this.pos))) this.pos++;
      name = s.slice(a, this.pos);
    } else if (c0 !== LBRACE) {
      throw new ParseError(c0 === QUOTE ? 'a quoted metric name must be inside the braces: {"name", ...}' : 'invalid metric name');
    }
    const labels: Record<string, string> = {};
    if (this.pos < end && s.charCodeAt(this.pos) === LBRACE) {
      const quotedName = this.labelSet(labels, name === undefined);
      if (quotedName !== undefined) name = quotedName;
    }
    if (name === undefined) throw new ParseError('missing metric name');
    if (this.pos >= end) throw new ParseError(`${name}: missing value`);
    if (!this.separator()) throw new ParseError(`${name}: invalid character after the metric name or labels`);
    // value
    let a = this.pos;
    while (this.pos < end && !isBlank(s.charCodeAt(this.pos))) this.pos++;
    const value = parseNumber(s, a, this.pos, strict, true);
    if (value === undefined) throw new ParseError(`${name}: invalid value "${s.slice(a, this.pos)}"`);
    let timestampMs: number | undefined;
    let exemplar: Exemplar | undefined;
    if (this.pos < end) {
      if (!this.separator()) throw new ParseError(`${name}: invalid whitespace after the value`);
      if (this.pos >= end) {
        if (strict) throw new ParseError(`${name}: trailing whitespace`);
      } else if (s.charCodeAt(this.pos) === HASH) {
        exemplar = this.exemplar(name);
      } else {
        a = this.pos;
        while (this.pos < end && !isBlank(s.charCodeAt(this.pos))) this.pos++;
        const ts = parseNumber(s, a, this.pos, strict, false);
        if (ts === undefined || !Number.isFinite(ts)) throw new ParseError(`${name}: invalid timestamp "${s.slice(a, this.pos)}"`);
        timestampMs = this.format === 'openmetrics' ? ts * 1000 : ts;
        if (this.pos < end) {
          if (!this.separator()) throw new ParseError(`${name}: invalid whitespace after the timestamp`);
          if (this.pos >= end) {
            if (strict) throw new ParseError(`${name}: trailing whitespace`);
          } else if (s.charCodeAt(this.pos) === HASH) {
            exemplar = this.exemplar(name);
          } else {
            throw new ParseError(`${name}: unexpected text after the timestamp`);
          }
        }
      }
    }
    const sample: Sample = { name, labels, value };
    if (timestampMs !== undefined) sample.timestampMs = timestampMs;
    if (exemplar !== undefined) sample.exemplar = exemplar;
    this.addSample(sample);
  }

  /** One separator: exactly one space when strict, a run of blanks otherwise. False when absent. */
  private separator(): boolean {
    const c = this.s.charCodeAt(this.pos);
    if (this.strict) {
      if (c !== SP) return false;
      this.pos++;
      return true;
    }
    if (!isBlank(c)) return false;
    this.skipBlanks();
    return true;
  }

  private skipBlanks(): void {
    while (this.pos < this.end && isBlank(this.s.charCodeAt(this.pos))) this.pos++;
  }

  /** After a value (and timestamp): ` # {labels} value [timestamp]`. `pos` is at the `#`. */
  private exemplar(sampleName: string): Exemplar {
    const s = this.s;
    const end = this.end;
    this.pos++;
    if (this.strict) {
      if (s.charCodeAt(this.pos) !== SP) throw new ParseError(`${sampleName}: exemplar: expected a space after "#"`);
      this.pos++;
    } else {
      this.skipBlanks();
    }
    if (s.charCodeAt(this.pos) !== LBRACE) throw new ParseError(`${sampleName}: exemplar: expected a label set`);
    const labels: Record<string, string> = {};
    this.labelSet(labels, false);
    if (!this.separator() || this.pos >= end) throw new ParseError(`${sampleName}: exemplar: expected a value after the labels`);
    let a = this.pos;
    while (this.pos < end && !isBlank(s.charCodeAt(this.pos))) this.pos++;
    const value = parseNumber(s, a, this.pos, this.strict, true);
    if (value === undefined) throw new ParseError(`${sampleName}: exemplar: invalid value "${s.slice(a, this.pos)}"`);
    const ex: Exemplar = { labels, value };
    if (this.pos < end) {
      if (!this.separator()) throw new ParseError(`${sampleName}: exemplar: invalid whitespace`);
      if (this.pos < end) {
        a = this.pos;
        while (this.pos < end && !isBlank(s.charCodeAt(this.pos))) this.pos++;
        const ts = parseNumber(s, a, this.pos, this.strict, false);
        if (ts === undefined || !Number.isFinite(ts)) throw new ParseError(`${sampleName}: exemplar: invalid timestamp "${s.slice(a, this.pos)}"`);
        ex.timestampMs = ts * 1000;
        if (this.pos < end) {
          this.skipBlanks();
          if (this.strict || this.pos < end) throw new ParseError(`${sampleName}: exemplar: unexpected text after the timestamp`);
        }
      } else if (this.strict) {
        throw new ParseError(`${sampleName}: exemplar: trailing whitespace`);
      }
    }
    if (this.strict) {
      let n = 0;
      for (const k in labels) n += codePoints(k) + codePoints(labels[k]!);
      if (n > 128) throw new ParseError(`${sampleName}: exemplar labels are ${n} characters long (at most 128)`);
    }
    return ex;
  }

  /**
   * `{name="value",...}` at `pos`, into `labels`. With `allowName`, one bare quoted string is the
   * metric name (`{"my.metric", "a.b"="x"}`, the UTF-8 form); it is returned. Leaves `pos` after `}`.
   */
  private labelSet(labels: Record<string, string>, allowName: boolean): string | undefined {
    const s = this.s;
    const end = this.end;
    const strict = this.strict;
    let metricName: string | undefined;
    let items = 0;
    this.pos++; // {
    if (!strict) this.skipBlanks();
    if (this.pos < end && s.charCodeAt(this.pos) === RBRACE) {
      this.pos++;
      return undefined;
    }
    for (;;) {
      if (this.pos >= end) throw new ParseError('unterminated label set');
      let labelName: string;
      let quoted = false;
      const c = s.charCodeAt(this.pos);
      if (c === QUOTE) {
        labelName = this.quotedString();
        quoted = true;
      } else if (isLabelNameStart(c)) {
        const a = this.pos;
        this.pos++;
        while (this.pos < end && isLabelNameChar(s.charCodeAt(this.pos))) this.pos++;
        labelName = s.slice(a, this.pos);
      } else {
        throw new ParseError(c === COMMA ? 'empty label (extra comma)' : c === RBRACE ? 'trailing comma in label set' : 'invalid label name');
      }
      if (!strict) this.skipBlanks();
      const next = s.charCodeAt(this.pos);
      if (quoted && (next === COMMA || next === RBRACE)) {
        // a bare quoted string: the metric name
        if (!allowName || metricName !== undefined || items > 0) throw new ParseError(`unexpected quoted name "${labelName}" in label set`);
        metricName = labelName;
      } else {
        if (next !== EQUALS) throw new ParseError(`label ${labelName}: expected "="`);
        this.pos++;
        if (!strict) this.skipBlanks();
        if (s.charCodeAt(this.pos) !== QUOTE) throw new ParseError(`label ${labelName}: the value must be in double quotes`);
        const value = this.quotedString();
        if (Object.prototype.hasOwnProperty.call(labels, labelName)) throw new ParseError(`duplicate label name "${labelName}"`);
        setLabel(labels, labelName, value);
      }
      items++;
      if (!strict) this.skipBlanks();
      const sep = s.charCodeAt(this.pos);
      if (sep === RBRACE) {
        this.pos++;
        return metricName;
      }
      if (sep !== COMMA) throw new ParseError(this.pos >= end ? 'unterminated label set' : 'expected "," or "}" after a label');
      this.pos++;
      if (!strict) {
        this.skipBlanks();
        if (s.charCodeAt(this.pos) === RBRACE) {
          this.pos++; // a trailing comma, as Go's 0.0.4 parser allows
          return metricName;
        }
      }
    }
  }

  /** A double-quoted string at `pos` with `\\`, `\"`, `\n` escapes (others kept as written). */
  private quotedString(): string {
    const s = this.s;
    const end = this.end;
    const a = this.pos + 1;
    let i = a;
    // Fast path: no backslash before the closing quote.
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return s.slice(a, i);
      }
      if (c === BACKSLASH) break;
      i++;
    }
    let out = s.slice(a, i);
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return out;
      }
      if (c === BACKSLASH && i + 1 < end) {
        const n = s.charCodeAt(i + 1);
        out += n === 110 ? '\n' : n === BACKSLASH ? '\\' : n === QUOTE ? '"' : '\\' + s[i + 1]!;
        i += 2;
        continue;
      }
      out += s[i]!;
      i++;
    }
    throw new ParseError('unterminated quoted string');
  }

  /** A metric name at `pos`: bare, or double-quoted (UTF-8 names). */
  private metricNameToken(): string | undefined {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c === QUOTE) return this.quotedString();
    if (!isMetricNameStart(c)) return undefined;
    const a = this.pos;
    this.pos++;
    while (this.pos < this.end && isMetricNameChar(s.charCodeAt(this.pos))) this.pos++;
    return s.slice(a, this.pos);
  }

  // ----- families ---------------------------------------------------------------------------

  /** Does family `st` own a sample called `name`? Returns the suffix, or undefined. */
  private suffixIn(st: FamilyState, name: string): string | undefined {
    const fname = st.fam.name;
    if (!name.startsWith(fname)) return undefined;
    const suffix = name.length === fname.length ? '' : name.slice(fname.length);
    return this.suffixes[st.fam.type].includes(suffix) ? suffix : undefined;
  }

  private resolveFamily(name: string): { st: FamilyState; suffix: string } {
    const cur = this.current;
    if (cur !== null) {
      const suffix = this.suffixIn(cur, name);
      if (suffix !== undefined) return { st: cur, suffix };
    }
    const exact = this.byName.get(name);
    if (exact !== undefined) {
      const suffix = this.suffixIn(exact, name);
      if (suffix !== undefined) return { st: exact, suffix };
    }
    for (const sfx of STRIPPABLE) {
      if (name.length > sfx.length && name.endsWith(sfx)) {
        const st = this.byName.get(name.slice(0, name.length - sfx.length));
        if (st !== undefined && this.suffixIn(st, name) !== undefined) return { st, suffix: sfx };
      }
    }
    if (exact !== undefined) {
      // A family of that name exists but its type does not allow this sample (e.g. counter `a` + sample `a`).
      if (this.strict) this.problem(this.lineNo, `sample ${name} is not valid for a ${exact.fam.type} family named ${exact.fam.name} (expected ${OM_SUFFIXES[exact.fam.type].map((x) => exact.fam.name + x).join(' / ')})`);
      return { st: exact, suffix: '' };
    }
    return { st: this.newFamily(name, 'unknown'), suffix: '' };
  }

  private addSample(sample: Sample): void {
    const { st, suffix } = this.resolveFamily(sample.name);
    if (this.strict) {
      if (st !== this.current && st.firstLine !== this.lineNo) {
        this.problem(this.lineNo, `samples of ${st.fam.name} are not contiguous (another family came between)`);
      }
      this.checkStrictSample(st, suffix, sample);
      st.sampleLines!.push(this.lineNo);
    }
    this.current = st;
    st.fam.samples.push(sample);
  }

  // ----- strict OpenMetrics rules -----------------------------------------------------------

  private checkStrictSample(st: FamilyState, suffix: string, sample: Sample): void {
    const fam = st.fam;
    const type = fam.type;
    const v = sample.value;
    const line = this.lineNo;
    const bad = (message: string): void => this.problem(line, `${sample.name}: ${message}`);
    const isInt = (x: number): boolean => Number.isFinite(x) && Math.floor(x) === x;
    if (type === 'stateset' && !Object.prototype.hasOwnProperty.call(sample.labels, fam.name)) bad(`stateset sample must have a "${fam.name}" label`);
    if ((type === 'histogram' || type === 'gaugehistogram') && suffix === '_bucket') {
      const le = sample.labels['le'];
      const leValue = le === undefined ? undefined : parseNumber(le, 0, le.length, true, true);
      if (le === undefined || leValue === undefined || Number.isNaN(leValue)) bad('bucket needs a numeric "le" label');
      else if (leValue === Infinity && le !== '+Inf') bad(`"le" must be written "+Inf", found "${le}"`);
      else if (leValue === -Infinity) bad('"le" cannot be -Inf');
      if (!isInt(v)) bad('bucket values must be integers');
    }
    if ((suffix === '_count' || suffix === '_gcount') && (type === 'histogram' || type === 'gaugehistogram' || type === 'summary') && !isInt(v)) bad('count values must be integers');
    if (type === 'summary' && suffix === '') {
      const q = sample.labels['quantile'];
      const qValue = q === undefined ? undefined : parseNumber(q, 0, q.length, true, true);
      if (q === undefined || qValue === undefined || !(qValue >= 0 && qValue <= 1)) bad('summary quantile samples need a "quantile" label between 0 and 1');
      if (v < 0) bad('quantile values cannot be negative');
    }
    if (type === 'stateset' && v !== 0 && v !== 1) bad('stateset values must be 0 or 1');
    if (type === 'info' && v !== 1) bad('info values must be 1');
    if (type !== 'unknown' && type !== 'gauge' && COUNTER_LIKE.has(suffix)) {
      if (Number.isNaN(v)) bad('counter-like samples cannot be NaN');
      else if (v < 0 && suffix !== '_gsum') bad('counter-like samples cannot be negative');
    }
    if (sample.exemplar !== undefined && !(((type === 'histogram' || type === 'gaugehistogram') && suffix === '_bucket') || (type === 'counter' && suffix === '_total'))) {
      bad('exemplars are only allowed on histogram buckets and counter totals');
    }
    // Grouping: the series of one label set (le / quantile aside) must be contiguous; timestamps
    // within a group all present or all absent, and never going backwards.
    const g = groupKey(fam, suffix, sample.labels);
    const ts = sample.timestampMs;
    if (st.group !== undefined && g !== st.group && st.seenGroups!.has(g)) bad('samples of one label set are not contiguous');
    if (st.group !== undefined && g === st.group) {
      if ((ts === undefined) !== (st.groupTs === undefined)) bad('a mix of samples with and without timestamps in one group');
      else if (ts !== undefined && st.groupTs !== undefined && ts < st.groupTs && type !== 'info') bad('timestamps went backwards');
    }
    st.group = g;
    st.groupTs = ts;
    st.seenGroups!.add(g);
  }

  private finishStrict(eofLine: number): void {
    if (eofLine === 0) this.problem(this.lineNo + 1, 'missing "# EOF" at the end (required by OpenMetrics)');
    const claimed = new Map<string, string>();
    for (const st of this.families) {
      const fam = st.fam;
      const names = new Set([fam.name, ...OM_SUFFIXES[fam.type].map((x) => fam.name + x)]);
      for (const n of names) {
        const other = claimed.get(n);
        if (other !== undefined) this.problem(st.firstLine, `metric name ${n} of ${fam.name} clashes with family ${other}`);
        else claimed.set(n, fam.name);
      }
      if (fam.unit !== '') {
        if (!fam.name.endsWith('_' + fam.unit)) this.problem(st.firstLine, `${fam.name}: the name must end with the unit "_${fam.unit}"`);
        if (fam.type === 'info' || fam.type === 'stateset') this.problem(st.firstLine, `${fam.name}: ${fam.type} metrics cannot have a unit`);
      }
      if (fam.type === 'histogram' || fam.type === 'gaugehistogram') this.checkHistogram(st);
    }
  }

  /** OpenMetrics histogram rules, per label set (and timestamp), in exposition order. */
  private checkHistogram(st: FamilyState): void {
    const fam = st.fam;
    const name = fam.name;
    const lines = st.sampleLines!;
    let group: string | undefined;
    let groupTs: number | undefined;
    let line = st.firstLine;
    let count: number | undefined;
    let bucketLe: number | undefined;
    let bucketValue = 0;
    let hasNegativeBuckets = false;
    let hasSum = false;
    let hasGsum = false;
    let hasNegativeGsum = false;
    const done = (): void => {
      const bad = (m: string): void => this.problem(line, `${name}: ${m}`);
      if (bucketLe !== Infinity) bad('the +Inf bucket is missing');
      else if (count !== undefined && bucketValue !== count) bad('_count does not match the +Inf bucket');
      if (hasSum && count === undefined) bad('_count must be present when _sum is');
      if (hasGsum && count === undefined) bad('_gcount must be present when _gsum is');
      if (!(hasSum || hasGsum) && count !== undefined) bad('_sum/_gsum must be present when _count/_gcount is');
      if (hasNegativeBuckets && hasSum) bad('_sum is not allowed with negative buckets');
      if (!hasNegativeBuckets && hasNegativeGsum) bad('negative _gsum needs negative buckets');
    };
    fam.samples.forEach((smp, i) => {
      const suffix = smp.name.slice(name.length);
      const g = groupKey(fam, suffix === '_bucket' ? '_bucket' : '', smp.labels);
      if (g !== group || smp.timestampMs !== groupTs) {
        if (group !== undefined) done();
        count = undefined;
        bucketLe = undefined;
        bucketValue = 0;
        hasNegativeBuckets = false;
        hasSum = false;
        hasGsum = false;
        hasNegativeGsum = false;
      }
      group = g;
      groupTs = smp.timestampMs;
      line = lines[i] ?? line;
      if (suffix === '_bucket') {
        const le = smp.labels['le'];
        const b = le === undefined ? NaN : (parseNumber(le, 0, le.length, true, true) ?? NaN);
        if (b < 0) hasNegativeBuckets = true;
        if (bucketLe !== undefined && !(b > bucketLe)) this.problem(line, `${name}: buckets out of order`);
        if (smp.value < bucketValue) this.problem(line, `${name}: bucket values decrease`);
        bucketLe = b;
        bucketValue = smp.value;
      } else if (suffix === '_count' || suffix === '_gcount') {
        count = smp.value;
      } else if (suffix === '_sum') {
        hasSum = true;
      } else if (suffix === '_gsum') {
        hasGsum = true;
        if (smp.value < 0) hasNegativeGsum = true;
      }
    });
    if (group !== undefined) done();
  }
}

/** The label set that identifies a group: without `le` on buckets, `quantile` on summary quantiles, the state label on statesets. */
function groupKey(fam: MetricFamily, suffix: string, labels: Record<string, string>): string {
  if (fam.type === 'info') return '';
  let skip: string | undefined;
  if (fam.type === 'summary' && suffix === '') skip = 'quantile';
  else if (fam.type === 'stateset') skip = fam.name;
  else if ((fam.type === 'histogram' || fam.type === 'gaugehistogram') && suffix === '_bucket') skip = 'le';
  const keys = Object.keys(labels)
    .filter((k) => k !== skip)
    .sort();
  let key = '';
  for (const k of keys) key += k + '\u0000' + labels[k]! + '\u0001';
  return key;
}
