// Approximate token counting without a model tokenizer. Synthetic prompts are built from a
// vocabulary of short, common English words, each exactly one token here (and, for typical BPE
// vocabularies, about one token each). For arbitrary text (datasets, server output) we count
// word pieces: each run of letters/digits is one token per started 4 characters past the
// first 6 (long words split into sub-words), and each punctuation mark is one token: a rough
// estimate, replaced by the server's usage.prompt_tokens whenever the server reports it.

/** Approximate number of tokens in `text`. Deterministic and shared by client and simulator. */
export function approxTokenCount(text: string): number {
  let tokens = 0;
  let wordLen = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isWordChar =
      (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 39 || c > 127;
    if (isWordChar) {
      wordLen++;
      continue;
    }
    if (wordLen > 0) {
      tokens += wordPieces(wordLen);
      wordLen = 0;
    }
    // whitespace merges into the next word; anything else is punctuation: one token each
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) tokens++;
  }
  if (wordLen > 0) tokens += wordPieces(wordLen);
  return tokens;
}

function wordPieces(len: number): number {
  return len <= 6 ? 1 : 1 + Math.ceil((len - 6) / 4);
}
