import { jsonShapeProblem, textProblems } from './body-guards';

describe('jsonShapeProblem', () => {
  it('accepts ordinary bodies, brackets inside strings included', () => {
    expect(jsonShapeProblem('{"name":"Ana [vip] {x}","tags":["a","b"],"n":[[1,22],{"k":[true,null]}]}')).toBeNull();
    expect(jsonShapeProblem('"just a string"')).toBeNull();
    expect(jsonShapeProblem('{"q":"an \\" escaped quote ]]]"}')).toBeNull();
  });

  it('refuses nesting past the depth limit, without recursing', () => {
    expect(jsonShapeProblem('['.repeat(32) + ']'.repeat(32))).toBeNull();
    expect(jsonShapeProblem('['.repeat(33) + ']'.repeat(33))).toMatch(/nested deeper than 32/);
    expect(jsonShapeProblem('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000))).toMatch(/nested deeper/);
  });

  it('counts array items at every level, objects and strings as one item each', () => {
    expect(jsonShapeProblem(JSON.stringify({ a: [1, 'x', { b: 2 }, [3]] }), 32, 4)).toBeNull();
    expect(jsonShapeProblem(JSON.stringify({ a: [1, 'x', { b: 2 }, [3], 5] }), 32, 4)).toMatch(/more than 4 items/);
    expect(jsonShapeProblem(JSON.stringify({ a: [[1, 2, 3, 4, 5]] }), 32, 4)).toMatch(/more than 4 items/);
    expect(jsonShapeProblem(JSON.stringify({ a: 1, b: 2, c: 3, d: 4, e: 5 }), 32, 4)).toBeNull();
  });
});

describe('textProblems', () => {
  it('names every field holding a NUL, at any depth, and property names too', () => {
    const body = { name: 'A\u0000', ok: 'fine', tags: ['x', 'y\u0000'], data: { deep: [{ v: '\u0000' }] }, ['k\u0000']: 1 };
    expect(textProblems(body)).toEqual([
      'the body has a property name containing the NUL character (\\u0000)',
      'name must not contain the NUL character (\\u0000)',
      'tags[1] must not contain the NUL character (\\u0000)',
      'data.deep[0].v must not contain the NUL character (\\u0000)',
    ]);
    expect(textProblems({ a: 'clean', b: [1, null, true] })).toEqual([]);
    expect(textProblems('x\u0000', 'search')).toEqual(['search must not contain the NUL character (\\u0000)']);
  });

  it('names text with an unpaired surrogate, and passes paired ones (emoji)', () => {
    expect(textProblems({ name: 'A\ud800', ok: 'Olá 😀', tags: ['\udc00'], ['k\ud83d']: 1 })).toEqual([
      'the body has a property name containing an unpaired surrogate',
      'name must be valid Unicode text (it has an unpaired surrogate)',
      'tags[0] must be valid Unicode text (it has an unpaired surrogate)',
    ]);
  });
});
