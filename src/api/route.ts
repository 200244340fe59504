/**
 * Express mounts each route from its one definition (`routeSpec` in `openapi.ts`): the method and
 * the path come from the route's OpenAPI operation, so a route the document does not describe
 * cannot be served, and a described one is served at exactly its documented path. `npm run lint`
 * refuses a route declared any other way in `src/api/`.
 */
import type { RequestHandler, Router } from 'express';
import { routeSpec, type OperationId } from './openapi';

/** Where the authenticated routes are mounted (`app.use(V1_MOUNT, v1)`). */
export const V1_MOUNT = '/v1';

const mounted = new Set<OperationId>();

/**
 * The route's path as the router it is mounted on sees it: `/v1/subscriptions/{subscriptionId}`
 * → `/subscriptions/:subscriptionId` on the v1 router; other paths stay whole, on the app.
 */
export function expressPath(documented: string): string {
  const local = documented.startsWith(`${V1_MOUNT}/`) ? documented.slice(V1_MOUNT.length) : documented;
  return local.replace(/\{(\w+)\}/g, ':$1');
}

/** Mounts the route `id` on `router` (the v1 router for `/v1/…` paths, the app for the others). */
export function handle(router: Router, id: OperationId, ...handlers: RequestHandler[]): void {
  const spec = routeSpec(id);
  const add = router[spec.method] as (path: string, ...handlers: RequestHandler[]) => unknown;
  add.call(router, expressPath(spec.path), ...handlers);
  mounted.add(id);
}

/** Every route mounted in this process so far (tests compare them with the document). */
export function mountedOperations(): ReadonlySet<OperationId> {
  return mounted;
}
