/**
 * 405 Method Not Allowed: a path the API serves, asked with a method it does not serve, is
 * answered 405 with `Allow` naming the methods it does (RFC 9110, 15.5.6), not 404. The routes are
 * the OpenAPI document's, which `test/unit/api-openapi.test.ts` holds to exactly the routes the
 * app serves; a GET route answers HEAD as well (Express does).
 */
import type { RequestHandler } from 'express';
import { ApiError } from './errors';
import type { OpenApiDocument } from './openapi';

/** The methods an OpenAPI path item may have, in the order `Allow` lists them. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;

/** One documented path: what it matches and the methods it serves. */
export interface DocumentedPath {
  pattern: RegExp;
  methods: ReadonlySet<string>;
}

/** `/v1/customers/{customerId}` → a pattern matching one segment per parameter, as Express's routes do. */
function pathPattern(template: string): RegExp {
  const source = template
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}/?$`, 'i');
}

/** Every path of the OpenAPI document with the methods it serves (GET routes also serve HEAD). */
export function documentedPaths(document: OpenApiDocument): DocumentedPath[] {
  return Object.entries(document.paths ?? {}).map(([template, item]) => {
    const methods = new Set(METHODS.filter((m) => (item as Record<string, unknown>)[m.toLowerCase()]));
    if (methods.has('GET')) methods.add('HEAD');
    return { pattern: pathPattern(template), methods };
  });
}

/**
 * Middleware after every route and before the 404: a request no route took, for a path that
 * exists with other methods, is refused with 405 and `Allow`.
 */
export function methodNotAllowed(paths: readonly DocumentedPath[]): RequestHandler {
  return (req, res, next) => {
    const allowed = new Set(paths.filter((p) => p.pattern.test(req.path)).flatMap((p) => [...p.methods]));
    if (allowed.size === 0 || allowed.has(req.method)) {
      next();
      return;
    }
    const allow = METHODS.filter((m) => allowed.has(m)).join(', ');
    res.setHeader('Allow', allow);
    next(
      new ApiError({
        status: 405,
        code: 'method_not_allowed',
        message: `${req.method} is not served at ${req.path}: it allows ${allow}`,
      }),
    );
  };
}
