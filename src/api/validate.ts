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

/**
 * Middleware (before the JSON parser): 415 for a body that is not `application/json`, or has no
 * Content-Type. The parser leaves such a body unread, and the route's schema would then report
 * "expected object, received undefined" about a body the caller did send.
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const carriesBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!carriesBody || req.is('application/json')) {
    next();
    return;
  }
  const given = req.get('content-type');
  next(
    new ApiError({
      status: 415,
      code: 'validation_error',
      message: 'unsupported media type: send the body as application/json',
      details: [
        {
          path: 'Content-Type',
          message: `must be application/json, not ${given ? given.slice(0, 100) : 'absent'}`,
        },
      ],
    }),
  );
};

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
