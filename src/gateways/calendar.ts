/**
 * Billing times of the gateways behind the port: whole intervals after a subscription's anchor,
 * counted in UTC (QFPay counts in its region time; see `domain/lifecycle/billing-interval.ts`, whose
 * arithmetic this shares).
 */
import { addIntervals } from '../domain/lifecycle/billing-interval';
import type { GatewayInterval } from './port';

/** The billing time `times` intervals after `anchorMs`, in UTC (a month-end day stays at month end). */
export function addIntervalsUtc(anchorMs: number, interval: GatewayInterval, times: number): number {
  return addIntervals(anchorMs, interval, times, '+00:00');
}
