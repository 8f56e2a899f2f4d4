export type RedisInfoSection = Record<string, number | string>;

const NUMERIC = /^-?\d+(\.\d+)?$/;

/**
 * Parses one section of Redis `INFO` (`key:value` lines, `#` headers) into an
 * object. Numeric values become numbers unless they would lose precision
 * beyond 2^53; everything else (`used_memory_human: "1.05M"`) stays text.
 */
export function parseRedisInfo(info: string): RedisInfoSection {
  const result: RedisInfoSection = {};
  for (const line of info.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    const raw = line.slice(colon + 1);
    const number = Number(raw);
    result[key] = NUMERIC.test(raw) && (raw.includes('.') || Number.isSafeInteger(number)) ? number : raw;
  }
  return result;
}

/**
 * One section over several nodes: numbers are summed, except ratios
 * (`*_ratio`, such as `mem_fragmentation_ratio`), which show the highest node's;
 * text is kept when every node reports the same, else the distinct values are
 * joined with ", " (for example two `maxmemory_policy` values).
 */
export function sumRedisInfo(sections: RedisInfoSection[]): RedisInfoSection {
  if (sections.length === 1) return { ...sections[0] };
  const result: RedisInfoSection = {};
  for (const key of new Set(sections.flatMap((section) => Object.keys(section)))) {
    const values = sections.map((section) => section[key]).filter((value) => value !== undefined);
    if (values.every((value) => typeof value === 'number')) {
      const numbers = values as number[];
      result[key] = key.endsWith('_ratio') ? Math.max(...numbers) : Math.round(numbers.reduce((sum, n) => sum + n, 0) * 100) / 100;
    } else {
      result[key] = [...new Set(values.map(String))].join(', ');
    }
  }
  return result;
}
