/**
 * Limits every JSON body meets before anything walks it. class-transformer
 * and class-validator recurse through a body, so a 6 KB body nested 3,000
 * deep overflowed the stack (500) before any validator ran; and Postgres
 * refuses the NUL character in text, so a `\u0000` anywhere became a 500 at
 * the database. Both are answered here with a 400, without recursion.
 */
export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_ARRAY_ITEMS = 10_000;
const NUL = '\u0000';
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Enough to name what is wrong without echoing a hostile body back. */
const MAX_REPORTED = 20;

/**
 * One pass over the raw JSON text, before it is parsed: the nesting depth and
 * the items of every array, counted outside strings. Answers what is wrong,
 * or null. Malformed JSON is left to the parser.
 */
export function jsonShapeProblem(text: string, maxDepth = MAX_JSON_DEPTH, maxItems = MAX_JSON_ARRAY_ITEMS): string | null {
  // Per open container: -1 for an object, else the items of the array seen so far.
  const items: number[] = [];
  let inString = false;
  let arrayHasValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    const top = items.length - 1;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      items.pop();
      arrayHasValue = true;
      continue;
    }
    if (c === 0x2c /* , */) {
      arrayHasValue = false;
      continue;
    }
    if (c === 0x3a /* : */) continue;
    // The start of a value (or of an object key): it counts as an item when its container is an array.
    if (top >= 0 && items[top] >= 0 && !arrayHasValue) {
      items[top] += 1;
      if (items[top] > maxItems) return `an array in the JSON body has more than ${maxItems} items`;
    }
    arrayHasValue = true;
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      items.push(c === 0x5b ? 0 : -1);
      arrayHasValue = false;
      if (items.length > maxDepth) return `the JSON body is nested deeper than ${maxDepth} levels`;
    }
  }
  return null;
}

/**
 * The fields of a parsed value whose text or name holds a NUL character, or an
 * unpaired surrogate (JSON's `"\ud800"` is not Unicode text: it would be stored
 * as U+FFFD without a word), as validation messages (`tags[2] must not
 * contain…`), walked with a stack. `root` names the value itself when it is a
 * plain string (a query or path parameter); `whole` names what a property
 * name with such a character belongs to (the body, the query string).
 */
export function textProblems(value: unknown, root = '', whole = 'the body'): string[] {
  const problems: string[] = [];
  const stack: { value: unknown; path: string }[] = [{ value, path: root }];
  while (stack.length > 0 && problems.length < MAX_REPORTED) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes(NUL)) problems.push(`${path || whole} must not contain the NUL character (\\u0000)`);
      else if (UNPAIRED_SURROGATE.test(current)) problems.push(`${path || whole} must be valid Unicode text (it has an unpaired surrogate)`);
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: `${path}[${i}]` });
    } else if (current !== null && typeof current === 'object') {
      const keys = Object.keys(current);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        if (key.includes(NUL) || UNPAIRED_SURROGATE.test(key)) {
          const what = key.includes(NUL) ? 'the NUL character (\\u0000)' : 'an unpaired surrogate';
          problems.push(`${path || whole} has a property name containing ${what}`);
          continue;
        }
        stack.push({ value: (current as Record<string, unknown>)[key], path: path ? `${path}.${key}` : key });
      }
    }
  }
  return problems;
}
