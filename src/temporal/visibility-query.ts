/** Temporal visibility queries: how a value is written into one. */

/**
 * Quotes a value for a visibility query. The values are validated against strict patterns before
 * they get here; escaping quotes and backslashes as well keeps the query safe on its own.
 */
export function quoteQueryValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
