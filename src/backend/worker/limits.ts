// The bounds of --workers, apart from the pool itself so that the command line can name them
// without loading the HTTP client.

/** the most client threads a run may ask for */
export const MAX_WORKERS = 64;

/** What a bad --workers value gets told. */
export function workersProblem(found: string): string {
  return `expected an integer from 1 to ${MAX_WORKERS} (client threads; 1 = no worker threads), found "${found}"; e.g. --workers 2`;
}
