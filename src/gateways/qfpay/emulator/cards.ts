/**
 * Cards in the emulator: QFPay's published sandbox test cards, card schemes, masking, and
 * expiry dates. The emulator never keeps a full card number: a token stores a fingerprint
 * (to recognise the same card again) and the masked number QFPay shows.
 */
import { createHash } from 'node:crypto';
import type { ChargeBehaviour, PaymentToken, PlannedBehaviour } from './model';

/** What happens when a card is tokenised. */
export type CardVerificationOutcome = 'approved' | 'declined_at_verification' | 'declined_at_3ds';

/** QFPay's sandbox test cards and how each behaves (qfpay-api-notes.md, "Sandbox test cards"). */
export const QFPAY_TEST_CARDS: Readonly<Record<string, CardVerificationOutcome>> = {
  '5200000000001096': 'approved',
  '4000000000001091': 'approved',
  '5200000000001005': 'approved',
  '4000000000001000': 'approved',
  '5200000000001120': 'declined_at_verification',
  '4000000000001125': 'declined_at_verification',
  '5200000000001013': 'declined_at_3ds',
  '4000000000001018': 'declined_at_3ds',
};

/**
 * Normalises a card number typed with spaces or dashes.
 * @returns the digits, or `undefined` when they are not 12 to 19 digits
 */
export function normaliseCardNumber(text: string): string | undefined {
  const digits = text.replace(/[\s-]/g, '');
  return /^\d{12,19}$/.test(digits) ? digits : undefined;
}

/** How tokenising this card goes: a listed test card behaves as documented, any other card is approved. */
export function verificationOutcome(cardNumber: string): CardVerificationOutcome {
  return QFPAY_TEST_CARDS[cardNumber] ?? 'approved';
}

/** The card scheme QFPay reports, from the card number's prefix. */
export function cardScheme(cardNumber: string): string {
  if (cardNumber.startsWith('4')) return 'VISA';
  if (/^(5[1-5]|2[2-7])/.test(cardNumber)) return 'MASTERCARD';
  if (/^3[47]/.test(cardNumber)) return 'AMEX';
  if (cardNumber.startsWith('62')) return 'UNIONPAY';
  if (/^35/.test(cardNumber)) return 'JCB';
  return 'UNKNOWN';
}

/** Masks a card number the way QFPay's notifications do: `5200****1096`. */
export function maskCardNumber(cardNumber: string): string {
  return `${cardNumber.slice(0, 4)}****${cardNumber.slice(-4)}`;
}

/**
 * A stable fingerprint of a card number, so the same card is recognised without storing it. The
 * salt keeps its earlier spelling: tokens in existing state files carry fingerprints made with it.
 */
export function cardFingerprint(cardNumber: string): string {
  return createHash('sha256').update(`qfpay-sandbox-card:${cardNumber}`).digest('hex');
}

/** A card's expiry month. */
export interface CardExpiry {
  year: number;
  month: number;
}

/**
 * Reads an expiry date: `MM/YY`, `MM/YYYY`, `YYYY-MM` or `MMYY`.
 * @returns the expiry month, or `undefined` when the text is not one of those forms
 */
export function parseExpiryDate(text: string): CardExpiry | undefined {
  const trimmed = text.trim();
  let year: number;
  let month: number;
  let m: RegExpExecArray | null;
  if ((m = /^(\d{2})\s*\/\s*(\d{2}|\d{4})$/.exec(trimmed))) {
    month = Number(m[1]);
    year = Number(m[2]);
  } else if ((m = /^(\d{4})-(\d{2})$/.exec(trimmed))) {
    year = Number(m[1]);
    month = Number(m[2]);
  } else if ((m = /^(\d{2})(\d{2})$/.exec(trimmed))) {
    month = Number(m[1]);
    year = Number(m[2]);
  } else {
    return undefined;
  }
  if (year < 100) year += 2000;
  if (month < 1 || month > 12) return undefined;
  return { year, month };
}

/** The expiry as QFPay's `token_expiry_date` writes it: the last day of the month, `YYYY-MM-DD 00:00:00`. */
export function formatTokenExpiry(expiry: CardExpiry): string {
  const lastDay = new Date(Date.UTC(expiry.year, expiry.month, 0)).getUTCDate();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${expiry.year}-${p(expiry.month)}-${p(lastDay)} 00:00:00`;
}

/**
 * How a token's charge at `atMs` goes: the last planned change whose time has come by then, or the
 * token's behaviour when none has. Judged at the charge's own time, so a charge due before a
 * change and processed after it (a clock moved past both) still goes the earlier way.
 */
export function behaviourAt(
  token: Pick<PaymentToken, 'behaviour' | 'planned'>,
  atMs: number,
): ChargeBehaviour {
  let current = token.behaviour;
  for (const change of token.planned ?? []) {
    if (change.fromMs > atMs) break;
    current = change.behaviour;
  }
  return current;
}

/**
 * A token's plan after a change from `fromMs` on, made at `nowMs`. A change from now (or the
 * past) becomes the behaviour, and replaces every planned change that has come by then; a later
 * one is kept in time order, after any planned for the same time, and replaces none.
 */
export function planBehaviour(
  token: Pick<PaymentToken, 'behaviour' | 'planned'>,
  change: PlannedBehaviour,
  nowMs: number,
): Pick<PaymentToken, 'behaviour' | 'planned'> {
  const planned = token.planned ?? [];
  if (change.fromMs <= nowMs) {
    return { behaviour: change.behaviour, planned: planned.filter((p) => p.fromMs > nowMs) };
  }
  const at = planned.findIndex((p) => p.fromMs > change.fromMs);
  const next = [...planned];
  next.splice(at === -1 ? next.length : at, 0, change);
  return { behaviour: token.behaviour, planned: next };
}
