/** What the customer and product routes share: QFPay's paging, a read by id, a deletion's answer. */
import type { Page } from '../../gateways/qfpay/client';
import { ApiError } from '../errors';
import type { DeletedResponse } from '../schemas';

/**
 * The paging fields of a page read from QFPay. QFPay does not say how many records there are: a
 * full page has a next one (perhaps empty), a shorter page is the last.
 */
export function pageFields(
  items: readonly unknown[],
  query: { page: number; page_size: number },
): { page: number; page_size: number; next_page: number | null } {
  const full = items.length >= query.page_size;
  return { page: query.page, page_size: query.page_size, next_page: full ? query.page + 1 : null };
}

/**
 * The record QFPay's query found by id.
 * @throws ApiError 404 when it found none
 */
export async function foundById<T>(
  query: Promise<Page<T>>,
  idOf: (record: T) => string,
  id: string,
  what: string,
): Promise<T> {
  const record = (await query).items.find((r) => idOf(r) === id);
  if (record === undefined) throw ApiError.notFound(`${what} ${id} not found`);
  return record;
}

/** The answer to a deletion QFPay carried out. */
export function deletedView(id: string): DeletedResponse {
  return { id, deleted: true };
}
