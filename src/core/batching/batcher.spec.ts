import { Batcher } from './batcher';

describe('Batcher', () => {
  it('runs the calls of one tick as one batch and answers each caller its own result', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(async (xs) => {
      batches.push(xs);
      return xs.map((x) => x * 10);
    });
    const results = await Promise.all([1, 2, 3].map((x) => batcher.add(x)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(await batcher.add(4)).toBe(40);
    expect(batches).toHaveLength(2);
  });

  it('splits at maxSize and rejects every caller of a failed batch', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(async (xs) => {
      sizes.push(xs.length);
      if (xs.includes(99)) throw new Error('db down');
      return xs;
    }, 2);
    await Promise.all([1, 2, 3].map((x) => batcher.add(x)));
    expect(sizes).toEqual([2, 1]);
    await expect(Promise.all([batcher.add(98), batcher.add(99)])).rejects.toThrow('db down');
  });

  it('with maxInFlight, gathers the calls made while a batch runs into the next one', async () => {
    const batches: number[][] = [];
    const releases: (() => void)[] = [];
    const batcher = new Batcher<number, number>(
      (xs) => {
        batches.push(xs);
        return new Promise((resolve) => releases.push(() => resolve(xs)));
      },
      500,
      1,
    );
    const first = batcher.add(1);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1]]);
    const later = [2, 3, 4].map((x) => batcher.add(x));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1]]); // still running: the others wait
    releases[0]();
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releases[1]();
    expect(await Promise.all(later)).toEqual([2, 3, 4]);
  });

  it('rejects the callers of a batch whose run throws before answering a promise', async () => {
    const batcher = new Batcher<number, number>(() => {
      throw new Error('synchronous');
    });
    await expect(batcher.add(1)).rejects.toThrow('synchronous');
  });

  it('lets the next batch go once the ones running are older than staleMs (a statement that hangs)', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      (xs) => {
        batches.push(xs);
        return xs.includes(1) ? new Promise<number[]>(() => undefined) : Promise.resolve(xs);
      },
      500,
      1,
      50,
    );
    void batcher.add(1); // never answers
    await new Promise((r) => setImmediate(r));
    const started = Date.now();
    expect(await batcher.add(2)).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(batches).toEqual([[1], [2]]);
  });
});
