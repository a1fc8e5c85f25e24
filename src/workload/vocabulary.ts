// Common short English words (at most 6 letters), the kind BPE vocabularies (Llama-3, cl100k)
// keep whole with their leading space, and exactly one token under core/tokens.ts's approximation.
// Synthetic prompts are random sequences of these words, so their token count is known.
export const VOCABULARY: readonly string[] = [
  'the', 'of', 'and', 'to', 'in', 'is', 'was', 'for', 'on', 'that', 'with', 'as', 'by', 'at',
  'from', 'his', 'he', 'it', 'an', 'are', 'be', 'this', 'which', 'or', 'had', 'not', 'but', 'her',
  'have', 'they', 'were', 'one', 'all', 'their', 'has', 'its', 'more', 'also', 'been', 'after',
  'who', 'first', 'two', 'new', 'can', 'other', 'she', 'when', 'time', 'would', 'there', 'into',
  'only', 'some', 'we', 'out', 'him', 'most', 'about', 'up', 'year', 'may', 'over', 'many', 'them',
  'years', 'such', 'these', 'than', 'so', 'where', 'could', 'both', 'made', 'used', 'what',
  'under', 'state', 'during', 'then', 'while', 'world', 'city', 'part', 'people', 'three', 'well',
  'known', 'later', 'each', 'like', 'since', 'school', 'being', 'before', 'same', 'war', 'life',
  'us', 'house', 'family', 'work', 'game', 'early', 'group', 'area', 'end', 'found', 'use', 'did',
  'any', 'own', 'team', 'how', 'few', 'long', 'name', 'high', 'way', 'back', 'series', 'said',
  'still', 'along', 'day', 'great', 'place', 'music', 'film', 'second', 'old', 'south', 'side',
  'north', 'among', 'will', 'best', 'small', 'until', 'power', 'public', 'number', 'top', 'king',
  'four', 'good', 'case', 'men', 'right', 'age', 'water', 'form', 'land', 'head', 'body', 'line',
  'order', 'point', 'down', 'home', 'show', 'five', 'days', 'party', 'local', 'club', 'major',
  'book', 'set', 'death', 'women', 'left', 'make', 'level',
];
