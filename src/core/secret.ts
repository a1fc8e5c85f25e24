// Secrets never reach a file, a log or a report: every message that may quote one passes here.
// The secrets are the API key and what the target URL carries: its user and password (sent as
// HTTP Basic authorization, as curl does) and its query (appended to every API request).

/** The shortest piece of a secret, at either end of a text, that is still taken out. */
const MIN_PARTIAL = 6;
/**
 * The shortest password, query value or lone user name taken out of free text wherever it
 * occurs: a shorter one (`?v=1`) would mangle every message that happens to hold it. The forms
 * a server would echo (`user:password`, `name=value` for a short value, the Basic header's
 * base64) go out whatever their length, and the displayed URL masks every value structurally.
 */
const MIN_BARE = 4;

/** One secret, several, or none. */
export type Secrets = string | readonly string[] | undefined;

/**
 * `text` with every occurrence of each secret replaced by `***` (longest first, so that a
 * secret inside another goes with it), and any piece of one left at either end of the text by a
 * cut (its first characters at the end, its last at the start, 6 or more): a message cut to
 * length must not keep half the key.
 */
export function redactSecret(text: string, secrets: Secrets): string {
  const list = typeof secrets === 'string' ? [secrets] : [...(secrets ?? [])].sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of list) if (s.length > 0) out = out.split(s).join('***');
  for (const s of list) if (s.length >= MIN_INNER_SECRET && OPAQUE.test(s)) out = redactPieces(out, s);
  for (const s of list) if (s.length > 0) out = redactEnds(out, s);
  return out;
}

/**
 * The shortest secret whose pieces are also taken out from inside a text: an API key or a
 * signature a server quotes cut short (`Incorrect API key provided: sk-live-Q9w8...`). Shorter
 * ones (a query's `2024-06-01`) would take dates and words out of every message.
 */
const MIN_INNER_SECRET = 16;
/**
 * A secret of one opaque token (a key, a signature, a password of such characters) has its
 * pieces taken out from inside a text; the composite forms (`user:password`, `name=value`,
 * `Basic …`) do not, or their harmless start (`alice:`, `sig=`) would take the displayed URL
 * apart. Their parts are secrets of their own.
 */
const OPAQUE = /^[A-Za-z0-9._~+/-]+$/;

/**
 * Every run of 6 or more characters inside `text` that is a prefix or a suffix of `secret`,
 * replaced by `***` (each found from its first or last 6 characters, then grown as far as it
 * still matches the secret).
 */
function redactPieces(text: string, secret: string): string {
  let out = text;
  const head = secret.slice(0, MIN_PARTIAL);
  for (let at = out.indexOf(head); at !== -1; at = out.indexOf(head, at + 3)) {
    let n = MIN_PARTIAL;
    while (n < secret.length && at + n < out.length && out.charCodeAt(at + n) === secret.charCodeAt(n)) n++;
    out = `${out.slice(0, at)}***${out.slice(at + n)}`;
  }
  const tail = secret.slice(secret.length - MIN_PARTIAL);
  for (let end = out.indexOf(tail); end !== -1; end = out.indexOf(tail, end + 3)) {
    // the piece ends where this match of the secret's last characters ends
    let n = MIN_PARTIAL;
    const stop = end + MIN_PARTIAL;
    while (n < secret.length && stop - n - 1 >= 0 && out.charCodeAt(stop - n - 1) === secret.charCodeAt(secret.length - n - 1)) n++;
    out = `${out.slice(0, stop - n)}***${out.slice(stop)}`;
    end = stop - n;
  }
  return out;
}

function redactEnds(text: string, secret: string): string {
  let out = text;
  const min = Math.min(MIN_PARTIAL, secret.length);
  for (let n = Math.min(secret.length - 1, out.length); n >= min; n--) {
    if (out.endsWith(secret.slice(0, n))) {
      out = `${out.slice(0, out.length - n)}***`;
      break;
    }
  }
  for (let n = Math.min(secret.length - 1, out.length); n >= min; n--) {
    if (out.startsWith(secret.slice(secret.length - n))) {
      out = `***${out.slice(n)}`;
      break;
    }
  }
  return out;
}

/** One line of at most `max` characters with the secrets taken out: redacted before the cut, and again after it. */
export function oneLineRedacted(text: string, secrets: Secrets, max = 500): string {
  return redactSecret(redactSecret(text, secrets).replace(/\s+/g, ' ').slice(0, max), secrets);
}

/** The target URL taken apart: where requests go, what they carry, and what outputs may show of it. */
export interface TargetUrl {
  /** scheme, host and port: where connections go */
  origin: string;
  /** the path without its trailing slashes (`/v1`): every request path is built on it */
  path: string;
  /** the query as given (`?api-version=2024-06-01`), or '': appended to every API request's path */
  query: string;
  /** `Basic <base64>` of the URL's user and password (percent-decoded, as curl sends them), or null */
  authorization: string | null;
  /** the URL as every output shows it: the password (or a user name given alone) and every query value as `***` */
  display: string;
  /** `display` for another path on the same base: `displayAt('/models')` */
  displayAt(suffix: string): string;
  /** every form of the URL's secrets that a text may quote (see MIN_BARE), longest first */
  secrets: string[];
  /** `text` with the URL as given replaced by `display`, and every secret taken out */
  redact(text: string): string;
}

/** Parses a target URL (throws on one that is not a URL, as `new URL` does). */
export function parseTarget(raw: string): TargetUrl {
  const u = new URL(raw);
  const secrets: string[] = [];
  const bare = (s: string): void => {
    for (const form of [s, decoded(s)]) if (form.length >= MIN_BARE) secrets.push(form);
  };
  const user = u.username;
  const password = u.password;
  let authorization: string | null = null;
  let shownUser = '';
  if (user !== '' || password !== '') {
    const basic = Buffer.from(`${decoded(user)}:${decoded(password)}`, 'utf8').toString('base64');
    authorization = `Basic ${basic}`;
    secrets.push(basic, `${user}:${password}`, `${decoded(user)}:${decoded(password)}`);
    // a user name alone is most often a token (`https://<token>@host`): it is the secret then
    if (password === '') {
      bare(user);
      shownUser = '***@';
    } else {
      bare(password);
      shownUser = `${user}:***@`;
    }
  }
  const pairs = u.search.length > 1 ? u.search.slice(1).split('&') : [];
  const shownQuery = pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq === -1) {
      // a parameter without a value may be the key itself (`?sk-abc`)
      bare(pair);
      return pair === '' ? '' : '***';
    }
    const value = pair.slice(eq + 1);
    if (value === '') return pair;
    // a value too short to take out alone goes with its name (`key=abc` → `***`); a longer one
    // alone, which leaves the name readable (`sig=***`)
    if (value.length < MIN_BARE || decoded(value).length < MIN_BARE) secrets.push(pair, `${decoded(pair.slice(0, eq))}=${decoded(value)}`);
    bare(value);
    return `${pair.slice(0, eq + 1)}***`;
  });
  const query = u.search;
  const displayQuery = pairs.length > 0 ? `?${shownQuery.join('&')}` : '';
  const displayOrigin = `${u.protocol}//${shownUser}${u.host}`;
  const clean = shownUser === '' && pairs.length === 0 && u.hash === '';
  const display = clean ? raw : `${displayOrigin}${u.pathname}${displayQuery}`;
  const path = u.pathname.replace(/\/+$/, '');
  const list = [...new Set(secrets.filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  return {
    origin: u.origin,
    path,
    query,
    authorization,
    display,
    displayAt: (suffix) => `${displayOrigin}${path}${suffix}${displayQuery}`,
    secrets: list,
    redact: (text) => redactSecret(clean ? text : text.split(raw).join(display), list),
  };
}

/** The API key and the target URL's secrets, longest first: what a client's messages are scrubbed of. */
export function clientSecrets(baseUrl: string, apiKey: string | undefined): string[] {
  const secrets = parseTarget(baseUrl).secrets;
  return (apiKey ? [apiKey, ...secrets] : secrets).sort((a, b) => b.length - a.length);
}

/** Percent-decoded, or as it is when it does not decode (a stray `%`). */
function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
