/**
 * A nesting limit for JSON bodies (the API's requests and QFPay's notifications). `JSON.parse` takes any depth, but everything after it
 * that walks a value recursively (validation, hashing, `JSON.stringify` on the way to QFPay or
 * Temporal) overflows the stack somewhere past a few thousand levels. No request or notification
 * needs more than a handful, so a deeper body is refused with a 400 before any of that runs.
 */

/** The deepest nesting of objects and arrays a request body may have. */
export const MAX_JSON_DEPTH = 16;

/**
 * The path (`billing_address.a.b`) of the first value nested deeper than `maxDepth`, or
 * `undefined` when none is. Iterative, so any depth is measured without recursion.
 */
export function tooDeepAt(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.value === null || typeof item.value !== 'object') continue;
    if (item.depth >= maxDepth) return item.path || '(root)';
    for (const [key, child] of Object.entries(item.value)) {
      stack.push({ value: child, depth: item.depth + 1, path: item.path ? `${item.path}.${key}` : key });
    }
  }
  return undefined;
}
