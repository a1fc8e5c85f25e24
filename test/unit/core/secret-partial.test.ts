// A piece of the API key that a server quoted cut short (its own cut, not ours) sits inside a
// message, not at an end: `invalid key sk-…(first 30)… for this project`. Any prefix or suffix of
// the key long enough to matter goes, wherever it is (before, only pieces at the ends of a text,
// where our own cut leaves them, were taken out).
import { describe, expect, it } from 'vitest';
import { oneLineRedacted, redactSecret } from '../../../src/core/secret.js';

const KEY = 'sk-live-Q9w8E7r6T5y4U3i2O1pAaSsDdFfGgHhJjKkLlZzXxCcVvBbNnMm0123456789'; // 69 characters

describe('a piece of the key inside a message', () => {
  it('a prefix of 6+ characters the server cut, followed by more text, is taken out', () => {
    for (const n of [8, 12, 30, 68]) {
      const text = `{"error":{"message":"Incorrect API key provided: ${KEY.slice(0, n)}... (truncated)","type":"invalid_request_error"}}`;
      const out = redactSecret(text, KEY);
      expect(out, `prefix of ${n}`).not.toContain(KEY.slice(0, 8));
      expect(out).toContain('Incorrect API key provided: ***');
      expect(oneLineRedacted(text, KEY)).not.toContain(KEY.slice(0, 8));
    }
  });

  it('a suffix of 6+ characters inside a message is taken out too (a server that shows the key\'s end)', () => {
    const text = `key ...${KEY.slice(20)} was refused`;
    expect(redactSecret(text, KEY)).not.toContain(KEY.slice(20, 28));
  });

  it('words that merely start like the key stay (fewer than 6 characters of it)', () => {
    expect(redactSecret('see sk-li for details', KEY)).toBe('see sk-li for details');
  });
});
