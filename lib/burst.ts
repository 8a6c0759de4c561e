/**
 * Two ways a hot path stays cheap under a burst of identical work (fifty pings
 * of one campaign at once, a claim storm's refusals), with no staleness added:
 *
 * - `SingleFlight`: callers asking for the same key while a read of it is
 *   under way share that read instead of starting their own. The answer is as
 *   of a moment at most one read old; nothing is kept once it settles.
 * - `turnBatcher`: items handed in during one turn of the event loop are
 *   written by one call (a multi-row INSERT), and each caller's promise
 *   settles with its own result.
 */

export class SingleFlight<V> {
  private readonly flights = new Map<string, Promise<V>>();

  run(key: string, read: () => Promise<V>): Promise<V> {
    const flying = this.flights.get(key);
    if (flying) return flying;
    const flight = read().finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return flight;
  }

  /** Reads under way (for tests and metrics). */
  get size(): number {
    return this.flights.size;
  }
}

/**
 * `flush` receives the items of one turn in the order they came and answers
 * one result per item, in the same order: a value, or a promise of its own
 * (a caller whose promise rejects gets its error alone). When `flush` itself
 * throws, every caller of that turn gets the error.
 */
export function turnBatcher<T, R>(flush: (items: T[]) => Promise<Array<R | Promise<R>>>): (item: T) => Promise<R> {
  type Batch = { items: T[]; results: Promise<Array<R | Promise<R>>> };
  let pending: Batch | null = null;
  return (item) => {
    if (!pending) {
      const batch: Batch = { items: [], results: Promise.resolve([]) };
      batch.results = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        pending = null;
        const results = await flush(batch.items);
        if (results.length !== batch.items.length)
          throw new Error(`a batch of ${batch.items.length} answered ${results.length} results`);
        return results;
      });
      pending = batch;
    }
    const index = pending.items.push(item) - 1;
    return pending.results.then((results) => results[index]!);
  };
}
