// The step loop: chains engine steps back to back on one time axis. The HTTP server calls it from
// its single timer; virtual-time runs call it directly. Either way the same code decides when a
// step ends and the next begins, so the server and the ground-truth capacity agree.

import type { EngineModel, StepPlan, TokenEvent } from './model.js';

/** Receives the tokens of one step at the step's end time. */
export type TokenSink<T> = (events: ReadonlyArray<TokenEvent<T>>, stepEndUs: number) => void;

/** Drives an `EngineModel`: `advance(now)` runs every step due by `now` and says when to come back. */
export class StepLoop<T> {
  private stepEndUs: number | undefined;

  /**
   * @param maxStepsPerAdvance how many steps one `advance` may complete before it returns to let
   *   I/O run (catch-up after a late timer); the caller calls again at once.
   */
  constructor(
    private readonly model: EngineModel<T>,
    private readonly sink: TokenSink<T>,
    private readonly maxStepsPerAdvance = 64,
    private readonly onStep?: (plan: StepPlan) => void,
  ) {}

  /**
   * Complete the step in flight if it ended by `nowUs` and start the next one at its end time
   * (no drift: deadlines chain, and a late caller catches up step by step). With no step in
   * flight, start one at `nowUs`. Returns the time at which to call again (a step's end, or the
   * end of a stall), or undefined when the engine is idle until a new request arrives.
   */
  advance(nowUs: number): number | undefined {
    let completed = 0;
    for (;;) {
      let startUs: number;
      if (this.stepEndUs !== undefined) {
        if (nowUs < this.stepEndUs) return this.stepEndUs;
        const endUs = this.stepEndUs;
        this.stepEndUs = undefined;
        const events = this.model.endStep(endUs);
        if (events.length > 0) this.sink(events, endUs);
        startUs = endUs;
        completed++;
      } else {
        startUs = nowUs;
      }
      // A request that arrived after a late step's end is not visible at that end: try again now.
      const plan = this.model.beginStep(startUs) ?? (startUs < nowUs ? this.model.beginStep(nowUs) : undefined);
      if (!plan) return this.model.nextWakeUs(startUs < nowUs ? nowUs : startUs);
      this.stepEndUs = plan.endUs;
      this.onStep?.(plan);
      if (completed >= this.maxStepsPerAdvance) return this.stepEndUs;
    }
  }
}
