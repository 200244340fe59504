/**
 * QFPay writes times two ways: notifications use naive `YYYY-MM-DD HH:mm:ss` strings (in the
 * merchant's QFPay region's local time, Hong Kong for the HK hosts), query responses use
 * ISO-8601 with a zone (`2024-11-21T11:12:06Z`). Both are turned into epoch milliseconds here.
 */

/** QFPay's region offset for naive times; HK is UTC+08:00. Override with `QFPAY_TIME_OFFSET`. */
export const DEFAULT_QFPAY_TIME_OFFSET = '+08:00';

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;

function offsetMinutes(offset: string): number {
  const m = OFFSET.exec(offset);
  if (!m) throw new Error(`invalid UTC offset "${offset}", expected like +08:00`);
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/**
 * Parses a QFPay time into epoch milliseconds.
 * @param text `YYYY-MM-DD HH:mm:ss` (read in `offset`) or ISO-8601 with a zone
 * @param offset the zone of naive times
 * @returns epoch ms, or `undefined` when the text is not a time
 */
export function parseQfpayTime(text: string, offset: string = DEFAULT_QFPAY_TIME_OFFSET): number | undefined {
  const trimmed = text.trim();
  const naive = NAIVE.exec(trimmed);
  if (naive) {
    const [, y, mo, d, h, mi, s] = naive.map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return Date.UTC(y, mo - 1, d, h, mi, s) - offsetMinutes(offset) * 60_000;
  }
  if (!/[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Formats epoch ms the way QFPay's notifications do: naive `YYYY-MM-DD HH:mm:ss` in `offset`. */
export function formatQfpayNaiveTime(ms: number, offset: string = DEFAULT_QFPAY_TIME_OFFSET): string {
  const d = new Date(ms + offsetMinutes(offset) * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())}`;
}

/** Formats epoch ms the way QFPay's query responses do: ISO-8601 UTC without milliseconds. */
export function formatQfpayIsoTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
