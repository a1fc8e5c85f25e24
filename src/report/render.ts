// Writes a run's reports next to its results: report.md and report.html, each atomically
// (a temporary file, then a rename), so a reader never sees half a report.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../results/types.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';

/** Where renderReports wrote the reports. */
export interface RenderedReports {
  markdownPath: string;
  htmlPath: string;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Renders report.md and report.html of `result` into `dir` (created when missing) and returns their paths. */
export function renderReports(result: RunResult, dir: string): RenderedReports {
  mkdirSync(dir, { recursive: true });
  const markdownPath = join(dir, 'report.md');
  const htmlPath = join(dir, 'report.html');
  writeAtomic(markdownPath, renderMarkdown(result));
  writeAtomic(htmlPath, renderHtml(result));
  return { markdownPath, htmlPath };
}
