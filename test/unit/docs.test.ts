// The project's documents link only to files inside the repository: every relative link (and
// image) in README.md and docs/*.md must resolve to a file that a clone has, and every #fragment
// that points into a markdown file must name one of its headings. A link to design notes outside
// the repository (../shared/...) once slipped into the README; this keeps it from coming back.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = realpathSync(resolve(dirname(fileURLToPath(import.meta.url)), '../..'));

/** Directories a clone does not have (git-ignored build output and run results, dependencies). */
const NOT_IN_A_CLONE = ['node_modules', 'dist', 'reports'];

/** The documents checked, relative to the repository root. */
function documents(): string[] {
  const docsDir = join(ROOT, 'docs');
  const docs = existsSync(docsDir)
    ? readdirSync(docsDir)
        .filter((f) => f.endsWith('.md'))
        .sort()
        .map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs];
}

/** The lines of a markdown text outside fenced code blocks; lines inside a fence are ''. */
function linesOutsideFences(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && line.trim() === m[1]) fence = null;
      return '';
    }
    if (m) {
      fence = m[1]!;
      return '';
    }
    return line;
  });
}

/** Markdown with fenced code blocks blanked and inline code spans replaced by a placeholder. */
function proseOf(markdown: string): string {
  // a code span's text is never a link, but a link's text may be a code span: keep a placeholder
  return linesOutsideFences(markdown)
    .map((line) => line.replace(/(`+)(?:(?!\1).)+?\1/g, 'code'))
    .join('\n');
}

/** Every link target in a markdown text: inline links and images, reference definitions, HTML href/src. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const targets: string[] = [];
  for (const m of prose.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    targets.push(m[1]!.replace(/^<|>$/g, ''));
  }
  for (const m of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm)) targets.push(m[1]!.replace(/^<|>$/g, ''));
  for (const m of prose.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)) targets.push(m[1]!);
  return targets;
}

/** GitHub's anchor for a heading text (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text only
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors a markdown file offers: its headings' slugs (duplicates numbered) and HTML ids/names. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of linesOutsideFences(markdown)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);
  }
  return anchors;
}

interface Problem {
  file: string;
  link: string;
  problem: string;
}

/** Checks one document's links; returns every problem found. */
function checkDocument(file: string): Problem[] {
  const abs = join(ROOT, file);
  const text = readFileSync(abs, 'utf8');
  const problems: Problem[] = [];
  for (const link of linkTargets(text)) {
    const say = (problem: string): void => void problems.push({ file, link, problem });
    // a scheme (https:, mailto:, ...) is an external link, not a file of the repository
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
    if (link.startsWith('//')) {
      say('a protocol-relative URL: write https://...');
      continue;
    }
    const hash = link.indexOf('#');
    const pathPart = decodeURIComponent((hash === -1 ? link : link.slice(0, hash)).replace(/\?.*$/, ''));
    const fragment = hash === -1 ? null : decodeURIComponent(link.slice(hash + 1));
    if (isAbsolute(pathPart)) {
      say('an absolute path: links must be relative to the document');
      continue;
    }
    const target = pathPart === '' ? abs : resolve(dirname(abs), pathPart);
    const rel = relative(ROOT, target);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      say(`leaves the repository (resolves to ${target})`);
      continue;
    }
    if (!existsSync(target)) {
      say(`no such file in the repository: ${rel}`);
      continue;
    }
    const real = realpathSync(target);
    const realRel = relative(ROOT, real);
    if (realRel.startsWith('..') || isAbsolute(realRel)) {
      say(`leaves the repository through a symbolic link (resolves to ${real})`);
      continue;
    }
    const top = realRel.split(/[\\/]/)[0]!;
    if (NOT_IN_A_CLONE.includes(top)) {
      say(`points into ${top}/, which a clone of the repository does not have`);
      continue;
    }
    if (fragment !== null && fragment !== '' && statSync(real).isFile() && real.endsWith('.md')) {
      const anchors = anchorsOf(readFileSync(real, 'utf8'));
      if (!anchors.has(fragment)) say(`no heading with the anchor #${fragment} in ${realRel}`);
    }
  }
  return problems;
}

describe('the link checker itself', () => {
  test('finds inline links, images, reference definitions and HTML links, and skips code', () => {
    const md = [
      'See [a](docs/a.md) and ![img](docs/x.png "title") and [`code text`](b.md#part).',
      '[ref]: ../outside.md',
      '<img src="pic.png"> <a href="c.md">c</a>',
      'Inline `[not](a-link.md)` is code.',
      '```',
      '[not](in-a-fence.md)',
      '```',
      '~~~yaml',
      'x: [a](also-not.md)',
      '~~~',
    ].join('\n');
    expect(linkTargets(md)).toEqual(['docs/a.md', 'docs/x.png', 'b.md#part', '../outside.md', 'pic.png', 'c.md']);
  });

  test("computes GitHub's heading anchors", () => {
    expect(slug('Capacity per GPU (`inferload sweep`)')).toBe('capacity-per-gpu-inferload-sweep');
    expect(slug('scrape --json')).toBe('scrape---json');
    expect(slug('requests.jsonl')).toBe('requestsjsonl');
    expect(slug('Warm-up, dropped arrivals, interrupted requests')).toBe('warm-up-dropped-arrivals-interrupted-requests');
    expect(slug('`inferload run [SCENARIO]`')).toBe('inferload-run-scenario');
    const anchors = anchorsOf('# A\n## A\n```\n# not a heading\n```\n### B_c\n');
    expect([...anchors]).toEqual(['a', 'a-1', 'b_c']);
  });
});

describe('documentation links stay inside the repository', () => {
  test('README.md and the docs/ pages exist', () => {
    expect(documents()).toContain('README.md');
    expect(documents().filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(0);
  });

  test.each(documents())('%s: every relative link resolves to a file of the repository', (file) => {
    expect(checkDocument(file)).toEqual([]);
  });

  // also as plain text or code: the README once pointed at `../shared/design/architecture.md`
  test.each(documents())('%s: no reference to the design notes outside the repository', (file) => {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    const hits = lines.map((l, i) => `${i + 1}: ${l.trim()}`).filter((l) => /\.\.\/shared\/|shared\/design\//.test(l));
    expect(hits).toEqual([]);
  });
});
