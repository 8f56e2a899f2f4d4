/** Small checks shared by step handlers; each returns `<field> <problem>` or nothing. */

export function checkText(step: Record<string, unknown>, field: string, maxLength: number): string[] {
  const value = step[field];
  if (typeof value !== 'string' || value.trim().length === 0) return [`${field} must be a non-empty string`];
  if (value.length > maxLength) return [`${field} must be at most ${maxLength} characters`];
  return [];
}

export function checkOneOf(step: Record<string, unknown>, field: string, allowed: readonly string[]): string[] {
  const value = step[field];
  return typeof value === 'string' && allowed.includes(value) ? [] : [`${field} must be one of ${allowed.join(', ')}`];
}

export function checkPositiveInteger(step: Record<string, unknown>, field: string, max: number): string[] {
  const value = step[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) return [`${field} must be a positive integer`];
  if (value > max) return [`${field} must be at most ${max}`];
  return [];
}
