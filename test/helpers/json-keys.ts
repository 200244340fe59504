/**
 * The API writes every JSON field in snake_case. These helpers find the keys of an answer (or of a
 * schema in the OpenAPI document) that are not, so a test can assert there are none.
 */

/** A field name as the API writes it: lower-case words joined by `_`. */
export const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/**
 * Fields whose content is the merchant's own free-form JSON, kept as given (a customer's
 * `billing_address`): their inner keys are not the API's.
 */
const FREE_FORM = new Set(['billing_address']);

/**
 * The path of every object key in `value` that is not snake_case, e.g.
 * `dunning.policy.attemptOffsets`; empty when the whole value follows the convention.
 */
export function nonSnakeKeys(value: unknown, at = ''): string[] {
  if (Array.isArray(value))
    return value.flatMap((item, i) => nonSnakeKeys(item, `${at}${at ? '.' : ''}${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => {
    const path = `${at}${at ? '.' : ''}${key}`;
    const own = SNAKE_CASE.test(key) ? [] : [path];
    return FREE_FORM.has(key) ? own : [...own, ...nonSnakeKeys(inner, path)];
  });
}
