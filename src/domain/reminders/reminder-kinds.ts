/** The reminder kinds and their configuration, apart from the rules (`reminders.ts`) that use the state. */

export const REMINDER_KINDS = ['renewal_upcoming', 'trial_will_end', 'payment_method_expiring'] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

/** How long before the billing time each kind is sent (ms); a kind absent is off. */
export type ReminderLeads = Partial<Record<ReminderKind, number>>;
