/** Request validation: parse one input with its schema or answer 400 naming every bad field. */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { MAX_JSON_DEPTH, tooDeepAt } from '../json-depth';
import { ApiError, validationError } from './errors';

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

/** Middleware (after the JSON parser): 400 for a body nested deeper than `maxDepth`. */
export function limitJsonDepth(maxDepth = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    const at = tooDeepAt(req.body, maxDepth);
    if (at === undefined) {
      next();
      return;
    }
    next(
      ApiError.validation('request body nested too deeply', [
        { path: at, message: `nested deeper than ${maxDepth} levels` },
      ]),
    );
  };
}
