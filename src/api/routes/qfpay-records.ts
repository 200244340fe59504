/** What the customer and product routes share: a read by id, a deletion's answer. */
import type { Page } from '../../gateways/qfpay/client';
import { ApiError } from '../errors';
import type { DeletedResponse } from '../schemas';

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
