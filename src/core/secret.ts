// Secrets never reach a file, a log or a report: every message that may quote one passes here.

/** `text` with every occurrence of `secret` replaced by `***` (no-op without a secret). */
export function redactSecret(text: string, secret: string | undefined): string {
  return secret && secret.length > 0 ? text.split(secret).join('***') : text;
}
