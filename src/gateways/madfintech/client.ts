/**
 * One HTTP call to MadFintech: `Api-Access-Token` auth, a per-request timeout, the response
 * validated with zod, and every failure as a {@link GatewayError} (retryable unless a 4xx other
 * than 429 refused the request as made).
 */
import type { z } from 'zod';
import { GatewayError } from '../port';

export interface ClientOptions {
  /** e.g. `https://gateway.madfintech.com/api/v1` */
  baseUrl: string;
  token: string;
  timeoutMs: number;
  /** Added to every call (an emulator's test clock header). */
  headers?: Readonly<Record<string, string>>;
}

/** A validated answer, with the gateway's time of it (the HTTP `Date` header, else the local clock). */
export interface Answer<T> {
  status: number;
  data: T;
  at: number;
}

const snippet = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

export class MadfintechClient {
  constructor(private readonly options: ClientOptions) {}

  /**
   * Sends the request. `allow` lists statuses (404, 409, …) returned as `{status, data: undefined}`
   * instead of thrown.
   */
  async call<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    schema: S,
    body?: unknown,
    allow: readonly number[] = [],
  ): Promise<Answer<z.infer<S> | undefined>> {
    const what = `${method} ${path}`;
    if (!this.options.token)
      throw new GatewayError('madfintech is not configured (MADFINTECH_API_TOKEN)', false);
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.options.baseUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          Accept: 'application/json',
          ...this.options.headers,
          'Api-Access-Token': this.options.token,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const reason = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : String(err);
      throw new GatewayError(`madfintech ${what}: ${reason}`, true);
    }
    const dateHeader = Date.parse(res.headers.get('date') ?? '');
    const at = Number.isNaN(dateHeader) ? Date.now() : dateHeader;
    if (allow.includes(res.status)) return { status: res.status, data: undefined, at };
    if (!res.ok) {
      const retryable = res.status >= 500 || res.status === 429;
      throw new GatewayError(
        `madfintech ${what}: HTTP ${res.status} ${snippet(text)}`,
        retryable,
        res.status,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GatewayError(`madfintech ${what}: answer is not JSON: ${snippet(text)}`, true, res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid';
      // A malformed answer may be a transient proxy page; the activity's retries bound it.
      throw new GatewayError(`madfintech ${what}: unexpected answer (${where})`, true, res.status);
    }
    return { status: res.status, data: parsed.data as z.infer<S>, at };
  }
}
