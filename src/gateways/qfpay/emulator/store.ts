/**
 * The emulator's state, and its optional JSON state file. The file is written debounced and
 * atomically (a temporary file renamed over the old one), so a crash leaves either the old or
 * the new state, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClockSnapshot } from './clock';
import type { Customer, NotificationRecord, PaymentToken, Product, Subscription } from './model';

/** Version of the state file's layout. */
export const STATE_FILE_VERSION = 1;

/** The state file's content. */
export interface EmulatorStateFile {
  version: typeof STATE_FILE_VERSION;
  /** Real time of the write, epoch ms: a running clock resumes as if it had kept running. */
  savedAtRealMs: number;
  clock: ClockSnapshot;
  counters: { syssn: number; notification: number };
  customers: Customer[];
  products: Product[];
  tokens: PaymentToken[];
  subscriptions: Subscription[];
  notifications: NotificationRecord[];
}

/** A new QFPay-style id: the prefix and 32 hex characters. */
export function newId(prefix: 'cust_' | 'prod_' | 'tk_' | 'sub_'): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Everything the emulator knows, in memory. */
export class EmulatorStore {
  readonly customers = new Map<string, Customer>();
  readonly products = new Map<string, Product>();
  readonly tokens = new Map<string, PaymentToken>();
  readonly subscriptions = new Map<string, Subscription>();
  readonly notifications = new Map<string, NotificationRecord>();
  private syssnCounter = 0;
  private notificationCounter = 0;
  private changeListener: (() => void) | undefined;

  /** Called after every change (the state file's debounced writer listens). */
  onChange(listener: (() => void) | undefined): void {
    this.changeListener = listener;
  }

  /** Records that something changed. */
  touch(): void {
    this.changeListener?.();
  }

  /** The next transaction serial number counter value. */
  nextSyssnCounter(): number {
    this.syssnCounter += 1;
    return this.syssnCounter;
  }

  /** The next notification id. */
  nextNotificationId(): string {
    this.notificationCounter += 1;
    return `ntf_${String(this.notificationCounter).padStart(8, '0')}`;
  }

  /**
   * Forgets every record. The counters keep counting, so a delivery still in flight during a
   * reset can never be mistaken for a new notification with a reused id.
   */
  clear(): void {
    this.customers.clear();
    this.products.clear();
    this.tokens.clear();
    this.subscriptions.clear();
    this.notifications.clear();
    this.touch();
  }

  /** The state as plain JSON. */
  toJSON(clock: ClockSnapshot, savedAtRealMs: number): EmulatorStateFile {
    return {
      version: STATE_FILE_VERSION,
      savedAtRealMs,
      clock,
      counters: { syssn: this.syssnCounter, notification: this.notificationCounter },
      customers: [...this.customers.values()],
      products: [...this.products.values()],
      tokens: [...this.tokens.values()],
      subscriptions: [...this.subscriptions.values()],
      notifications: [...this.notifications.values()],
    };
  }

  /** Replaces the state with a state file's content. */
  load(state: EmulatorStateFile): void {
    this.clear();
    for (const c of state.customers) this.customers.set(c.customerId, c);
    for (const p of state.products) this.products.set(p.productId, p);
    for (const t of state.tokens) this.tokens.set(t.tokenId, t);
    for (const s of state.subscriptions) this.subscriptions.set(s.subscriptionId, s);
    for (const n of state.notifications) this.notifications.set(n.id, n);
    this.syssnCounter = state.counters.syssn;
    this.notificationCounter = state.counters.notification;
  }
}

/** Thrown when the state file exists but cannot be used. */
export class StateFileError extends Error {
  readonly type = 'state_file_error';
}

/**
 * Reads a state file.
 * @returns its content, or `undefined` when there is no file yet
 * @throws StateFileError when the file is unreadable, not JSON, or of another version
 */
export function readStateFile(file: string): EmulatorStateFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read state file ${file}`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new StateFileError(`state file ${file} is not valid JSON`, { cause });
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (version !== STATE_FILE_VERSION) {
    throw new StateFileError(
      `state file ${file} has version ${String(version)}, expected ${STATE_FILE_VERSION}`,
    );
  }
  return parsed as EmulatorStateFile;
}

/** Writes the state file a short while after the last change, one write at a time. */
export class StateFileWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  /**
   * @param file the state file
   * @param snapshot produces the content to write
   * @param debounceMs how long to wait for more changes before writing
   * @param onError told about a failed write (the next change tries again)
   */
  constructor(
    private readonly file: string,
    private readonly snapshot: () => EmulatorStateFile,
    private readonly debounceMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Schedules a write. */
  schedule(): void {
    this.dirty = true;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Writes now if anything changed since the last write; resolves when the file is on disk. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await writeAtomically(this.file, JSON.stringify(this.snapshot()));
      } catch (error) {
        this.dirty = true;
        this.onError(error);
      }
    });
    return this.writing;
  }
}

async function writeAtomically(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(temporary, content, 'utf8');
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
