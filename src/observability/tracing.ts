/**
 * OpenTelemetry traces, off by default. With `OTEL_TRACES_EXPORTER=otlp` (or an
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), a process starts the
 * OpenTelemetry Node SDK: HTTP server and client spans (node:http, Express, fetch/undici) and the
 * Temporal SDK's interceptors (client → workflow → activity), exported over OTLP
 * (http/protobuf) as the standard `OTEL_*` variables say (`OTEL_SERVICE_NAME`,
 * `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_RESOURCE_ATTRIBUTES`, …). `OTEL_TRACES_EXPORTER=console`
 * prints spans instead.
 *
 * One trace then runs from a QFPay webhook request through the signal(-with-start), the workflow,
 * its activity and the activity's QFPay HTTP call; another from `POST /v1/subscriptions` through
 * the creation workflow.
 *
 * Import this module before anything that loads `node:http` or Express, so that their
 * instrumentations can patch them.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/** What a process needs to trace: the Temporal plugin (client and worker) and a way to flush. */
export interface Tracing {
  /** Adds the Temporal SDK's OpenTelemetry interceptors to a Client or a Worker. */
  plugin: OpenTelemetryPlugin;
  /** Flushes the spans still buffered and stops the SDK. */
  shutdown(): Promise<void>;
}

/** Whether the standard variables ask for traces (never by default). */
export function tracesRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter) return exporter !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

function exporterFromEnv(env: NodeJS.ProcessEnv): SpanProcessor {
  if (env.OTEL_TRACES_EXPORTER?.trim() === 'console')
    return new SimpleSpanProcessor(new ConsoleSpanExporter());
  // The endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_* (read by the exporter).
  return new BatchSpanProcessor(new OTLPTraceExporter());
}

/**
 * Starts tracing when the environment asks for it (or when `spanProcessor` is given: tests).
 * @param component the default service name (`qfpay-engine-worker`, `qfpay-engine-api`); `OTEL_SERVICE_NAME` wins
 * @returns undefined when traces are off
 */
export function startTracing(
  component: string,
  options: { env?: NodeJS.ProcessEnv; spanProcessor?: SpanProcessor } = {},
): Tracing | undefined {
  const env = options.env ?? process.env;
  if (!options.spanProcessor && !tracesRequested(env)) return undefined;
  const spanProcessor = options.spanProcessor ?? exporterFromEnv(env);
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME ?? `qfpay-engine-${component}` });
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [spanProcessor],
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation(), new UndiciInstrumentation()],
  });
  sdk.start();
  // Workflow spans are made inside the sandbox and leave it through a sink to the same processor.
  const plugin = new OpenTelemetryPlugin({ resource, spanProcessor });
  return { plugin, shutdown: () => sdk.shutdown() };
}
