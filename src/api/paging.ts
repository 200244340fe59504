/**
 * One way to page every list of the API: the merchant asks `?limit=&cursor=` and gets
 * `{ data, next_cursor }`, whatever the source pages by. A cursor is opaque to the merchant: a
 * position in one list, signed and tied to that list and its filters (see `ApiDigests`), so a
 * cursor of another list, of other filters or of nobody is a 400 naming `cursor` before Temporal
 * or QFPay hears of it.
 *
 * The positions: Temporal's own page token for the lists read from visibility (subscriptions,
 * merchant events); an offset for every other list (QFPay's customers and products, which QFPay
 * pages by number; a subscription's orders, a customer's tokens and the gateways, read whole). An
 * offset, not a page number, so each page may ask another `limit`.
 */
import type { Page } from '../gateways/qfpay/client';
import type { ApiContext } from './context';
import { canonicalJson } from './digests';
import { ApiError } from './errors';
import type { ListQuery } from './schemas';

/** The one shape of every list the API answers. */
export interface ListPage<T> {
  /** This page's records, in the list's order. */
  data: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** The largest offset a cursor holds (far beyond any list the API reads). */
const MAX_OFFSET = 999_999_999;

/** The 400 for a cursor this API did not issue for this list. */
function invalidCursor(): ApiError {
  return ApiError.validation('invalid cursor', [
    { path: 'cursor', message: 'not a next_cursor of this list (with the same filters)' },
  ]);
}

/**
 * What a list's cursors are tied to: its name and its filters (the query without `limit` and
 * `cursor`), in a canonical form.
 */
export function listScope(list: string, query: Record<string, unknown>): string {
  const filters = Object.entries(query).filter(([key]) => key !== 'limit' && key !== 'cursor');
  return `${list}?${canonicalJson(Object.fromEntries(filters))}`;
}

/**
 * The position a `cursor` holds (undefined for the first page).
 * @param scope the list's scope: {@link listScope}, or the visibility query it pages through
 * @throws ApiError 400 naming `cursor` when this API did not issue it for this list
 */
export function cursorPosition(
  ctx: Pick<ApiContext, 'digests'>,
  cursor: string | undefined,
  scope: string,
): Buffer | undefined {
  if (cursor === undefined) return undefined;
  const position = ctx.digests.decodeCursor(cursor, scope);
  if (position === undefined) throw invalidCursor();
  return position;
}

/**
 * The offset a `cursor` holds: 0 for the first page.
 * @throws ApiError 400 naming `cursor` when this API did not issue it for this list
 */
export function cursorOffset(
  ctx: Pick<ApiContext, 'digests'>,
  cursor: string | undefined,
  scope: string,
): number {
  const position = cursorPosition(ctx, cursor, scope);
  if (position === undefined) return 0;
  const text = position.toString('utf8');
  if (!/^(0|[1-9]\d{0,8})$/.test(text) || Number(text) > MAX_OFFSET) throw invalidCursor();
  return Number(text);
}

/** The cursor of the page that starts at `offset`. */
export function offsetCursor(ctx: Pick<ApiContext, 'digests'>, offset: number, scope: string): string | null {
  return ctx.digests.encodeCursor(Buffer.from(String(offset), 'utf8'), scope);
}

/**
 * The `limit` records from offset `from` of a list the API holds whole (a subscription's orders,
 * a customer's tokens, the gateways). Read the offset with {@link cursorOffset} before the list,
 * so that a bad cursor is refused before anything is asked.
 */
export function pageFrom<T>(
  ctx: Pick<ApiContext, 'digests'>,
  records: readonly T[],
  from: number,
  limit: number,
  scope: string,
): ListPage<T> {
  const to = from + limit;
  return {
    data: records.slice(from, to),
    next_cursor: to < records.length ? offsetCursor(ctx, to, scope) : null,
  };
}

/**
 * One page of a list QFPay pages by number. QFPay does not say how many records there are: a
 * full page may have more after it (the list then ends with an empty page), a shorter one is the
 * last. `limit` records from the cursor's offset are on QFPay's page of that size, and on the
 * next one when an earlier page had another size.
 * @param read QFPay's query for one page (1-based) of `pageSize` records
 */
export async function qfpayPageOf<T>(
  ctx: Pick<ApiContext, 'digests'>,
  read: (page: number, pageSize: number) => Promise<Page<T>>,
  query: ListQuery,
  scope: string,
): Promise<ListPage<T>> {
  const from = cursorOffset(ctx, query.cursor, scope);
  const page = Math.floor(from / query.limit) + 1;
  const skip = from % query.limit;
  const first = (await read(page, query.limit)).items;
  let data = first.slice(skip);
  if (skip > 0 && first.length >= query.limit) {
    data = data.concat((await read(page + 1, query.limit)).items.slice(0, skip));
  }
  data = data.slice(0, query.limit);
  return {
    data,
    next_cursor: data.length >= query.limit ? offsetCursor(ctx, from + query.limit, scope) : null,
  };
}
