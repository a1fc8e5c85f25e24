// Secrets never reach a file, a log or a report: every message that may quote one passes here.

/** The shortest piece of a secret, at either end of a text, that is still taken out. */
const MIN_PARTIAL = 6;

/**
 * `text` with every occurrence of `secret` replaced by `***` (no-op without a secret), and any
 * piece of it left at either end of the text by a cut (its first characters at the end, its
 * last at the start, 6 or more): a message cut to length must not keep half the key.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret || secret.length === 0) return text;
  let out = text.split(secret).join('***');
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

/** One line of at most `max` characters with the secret taken out: redacted before the cut, and again after it. */
export function oneLineRedacted(text: string, secret: string | undefined, max = 500): string {
  return redactSecret(redactSecret(text, secret).replace(/\s+/g, ' ').slice(0, max), secret);
}
