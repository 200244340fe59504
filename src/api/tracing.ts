/**
 * The API's traces (off unless OTEL_* asks for them), started on import: `src/api/main.ts` imports
 * this first, before `node:http` and Express are loaded, so their instrumentations can patch them.
 */
import { startTracing } from '../observability/tracing';

export const tracing = startTracing('api');
