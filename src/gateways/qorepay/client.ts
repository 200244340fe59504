/**
 * A small QorePay HTTP client: bearer authentication, a timeout on every call, zod-validated
 * JSON, paged lists, and every failure a {@link GatewayError} classified for retrying.
 */
import { type z } from 'zod';
import { GatewayError } from '../port';
import { pageSchema } from './wire';

export const DEFAULT_QOREPAY_URL = 'https://gate.qorepay.com/api/v1';
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Pages read from one list before giving up (a list that never ends is the gateway's fault). */
const MAX_PAGES = 50;

export interface QorepayClientOptions {
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`; never logged or put into errors. */
  token: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  /** Added to every call (an emulator's test clock header). */
  headers?: Readonly<Record<string, string>>;
}

export class QorepayClient {
  private readonly base: URL;

  constructor(private readonly options: QorepayClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  }

  /** The same client, adding `headers` to every call (nothing added when it is empty). */
  withHeaders(headers: Readonly<Record<string, string>>): QorepayClient {
    if (Object.keys(headers).length === 0) return this;
    return new QorepayClient({ ...this.options, headers: { ...this.options.headers, ...headers } });
  }

  /** One call; `path` is relative to the base URL (`billing_templates/`). */
  call<T extends z.ZodType>(
    method: 'GET' | 'POST' | 'PATCH',
    path: string,
    schema: T,
    body?: unknown,
  ): Promise<z.infer<T>> {
    return this.send(method, new URL(path.replace(/^\//, ''), this.base), schema, body);
  }

  /** Every item of a paged list, following `next` on the same origin. */
  async list<T extends z.ZodType>(path: string, item: T): Promise<Array<z.infer<T>>> {
    const schema = pageSchema(item);
    const items: Array<z.infer<T>> = [];
    let url: URL | null = new URL(path.replace(/^\//, ''), this.base);
    for (let page = 0; url !== null; page += 1) {
      if (page === MAX_PAGES) throw new GatewayError(`${path}: more than ${MAX_PAGES} pages`, true);
      const answer = (await this.send('GET', url, schema)) as {
        results: Array<z.infer<T>>;
        next?: string | null;
      };
      items.push(...answer.results);
      url = answer.next ? new URL(answer.next, this.base) : null;
      // The token goes to QorePay only, whatever a `next` link says.
      if (url !== null && url.origin !== this.base.origin)
        throw new GatewayError(`${path}: next page on another origin`, true);
    }
    return items;
  }

  private async send<T extends z.ZodType>(
    method: string,
    url: URL,
    schema: T,
    body?: unknown,
  ): Promise<z.infer<T>> {
    const what = `QorePay ${method} ${url.pathname}`;
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.options.token}`,
          Accept: 'application/json',
          ...this.options.headers,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const name = (err as Error)?.name;
      const why = name === 'TimeoutError' ? `no answer in ${this.options.timeoutMs} ms` : String(err);
      throw new GatewayError(`${what}: ${why}`, true);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new GatewayError(`${what}: answer cut off: ${String(err)}`, true, response.status);
    }
    if (!response.ok) {
      const retryable = response.status === 429 || response.status >= 500;
      throw new GatewayError(
        `${what}: HTTP ${response.status} ${text.slice(0, 300)}`,
        retryable,
        response.status,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GatewayError(`${what}: answer is not JSON`, true, response.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
      throw new GatewayError(`${what}: unexpected answer (${at})`, true, response.status);
    }
    return parsed.data;
  }
}
