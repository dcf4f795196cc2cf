// An undo stack: each step that changed something registers its inverse; on failure the inverses
// run in reverse order. An inverse that fails is recorded and the unwinding goes on.

export type UndoStep = { what: string; run: () => Promise<void> | void };

export class UndoStack {
  #steps: UndoStep[] = [];

  /** Register the inverse of a step that has just succeeded. */
  push(what: string, run: () => Promise<void> | void): void {
    this.#steps.push({ what, run });
  }

  get size(): number {
    return this.#steps.length;
  }

  /** Forget every step: the job succeeded and its effects stay. */
  commit(): void {
    this.#steps = [];
  }

  /** Move the steps of `other` onto this stack (a child job that succeeded inside a parent). */
  adopt(other: UndoStack): void {
    this.#steps.push(...other.#steps);
    other.#steps = [];
  }

  /** Run every inverse, newest first. Returns the failures; never throws. */
  async unwind(): Promise<{ what: string; error: unknown }[]> {
    const failures: { what: string; error: unknown }[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop()!;
      try {
        await step.run();
      } catch (error) {
        failures.push({ what: step.what, error });
      }
    }
    return failures;
  }
}
