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
});
