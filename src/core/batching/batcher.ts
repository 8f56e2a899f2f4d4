/**
 * Collects the calls made by concurrent jobs and runs them as one batch (one
 * SQL statement, one Redis script for many messages). Every caller awaits its
 * own result, so a job completes only once its write has committed: batching
 * saves round trips, never durability.
 *
 * A batch starts at the end of the event-loop tick it was asked in. With
 * `maxInFlight`, no more than that many batches run at once: calls made
 * while they run wait for one of them to finish and then go together (group
 * commit). An idle system pays no extra latency; a busy one sends fewer,
 * bigger statements instead of many small ones competing for the database.
 * A batch running longer than `staleMs` (a database that stopped answering)
 * no longer holds the others back: they go on as without the limit.
 */
export class Batcher<In, Out> {
  private pending: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  /** Start times of the batches running now. */
  private readonly running = new Set<{ startedAt: number }>();
  private recheck?: NodeJS.Timeout;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly maxSize = 500,
    private readonly maxInFlight = Infinity,
    private readonly staleMs = 1000,
  ) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (this.pending.length >= this.maxSize && this.mayStart()) this.flush();
      else this.schedule();
    });
  }

  private mayStart(): boolean {
    if (this.running.size < this.maxInFlight) return true;
    const now = Date.now();
    let fresh = 0;
    for (const r of this.running) if (now - r.startedAt < this.staleMs) fresh++;
    return fresh < this.maxInFlight;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.mayStart()) this.flush();
      // Every batch running may hang: look again once they count as stale.
      else this.recheck ??= setTimeout(() => {
        this.recheck = undefined;
        if (this.pending.length > 0) this.schedule();
      }, this.staleMs);
    });
  }

  private flush(): void {
    const batch = this.pending.splice(0, this.maxSize);
    if (batch.length === 0) return;
    if (this.pending.length > 0) this.schedule();
    const running = { startedAt: Date.now() };
    this.running.add(running);
    let work: Promise<Out[]>;
    try {
      work = this.run(batch.map((b) => b.input));
    } catch (error) {
      work = Promise.reject(error);
    }
    work
      .then(
        (outs) => batch.forEach((b, i) => b.resolve(outs[i])),
        (error: unknown) => batch.forEach((b) => b.reject(error)),
      )
      .finally(() => {
        this.running.delete(running);
        // The calls that waited for a free slot go now, together.
        if (this.pending.length > 0 && this.mayStart()) this.flush();
      });
  }
}
