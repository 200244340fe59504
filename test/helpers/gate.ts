/** A promise a test opens when it chooses: it holds an activity at one point of the workflow's loop. */
export class Gate {
  readonly promise: Promise<void>;
  #open!: () => void;
  constructor() {
    this.promise = new Promise<void>((resolve) => (this.#open = resolve));
  }
  open(): void {
    this.#open();
  }
}

/** Polls (real time) until `done` holds; bounded only as a hang guard. */
export async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  guardMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${guardMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
