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
