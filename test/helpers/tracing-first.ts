/**
 * Starts the engine's tracing with an in-memory exporter as soon as it is imported: import it
 * before any module that loads `node:http` or Express, so their instrumentations patch them.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../src/observability/tracing';

export const exporter = new InMemorySpanExporter();
export const tracing = startTracing('test', { spanProcessor: new SimpleSpanProcessor(exporter) })!;
