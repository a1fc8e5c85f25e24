// Yielding the event loop between pieces of housekeeping, so that socket reads (and their
// stamps) run between the pieces instead of after all of them.

/** Resolves on a later turn of the event loop, after the I/O callbacks pending now. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
