/** Request validation: parse one input with its schema or answer 400 naming every bad field. */
import type { z } from 'zod';
import { validationError } from './errors';

/**
 * Parses a request input.
 * @param where `body`, `query`, `path` or a header name; named in the error message
 * @throws ApiError 400 `validation_error` with one detail per bad field (paths as the caller wrote them)
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}
