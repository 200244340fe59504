/**
 * A merchant's metadata on a subscription, a customer or a product: string keys and values, with
 * Stripe's limits. The engine holds each value with its keyed digest (made by the API, which has
 * the secret): Temporal's visibility lists by the digests, so a value is never written in clear
 * outside the encrypted payloads.
 */

/** Stripe's limits: 50 keys, keys of 40 characters, values of 500. */
export const METADATA_LIMITS = { keys: 50, keyLength: 40, valueLength: 500 } as const;

/** Metadata as the merchant sees it. */
export type Metadata = Record<string, string>;

/** One value as the engine holds it: the value and its digest (`ApiDigests.metadataDigest`). */
export interface MetadataEntry {
  value: string;
  digest: string;
}

/** What the engine holds: each key's entry. */
export type HeldMetadata = Record<string, MetadataEntry>;

/** A change: a key's new entry, or null to remove the key. */
export type MetadataChange = Record<string, MetadataEntry | null>;

/**
 * Held metadata from a payload the workflow does not trust (a signal's), or undefined when it is
 * not held metadata: a malformed one is dropped, never thrown on.
 */
export function heldMetadataOf(input: unknown): HeldMetadata | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > METADATA_LIMITS.keys) return undefined;
  const held: HeldMetadata = {};
  for (const [key, entry] of entries) {
    if (metadataKeyProblem(key) !== undefined || typeof entry !== 'object' || entry === null)
      return undefined;
    const { value, digest } = entry as Record<string, unknown>;
    if (typeof value !== 'string' || value.length > METADATA_LIMITS.valueLength || typeof digest !== 'string')
      return undefined;
    held[key] = { value, digest };
  }
  return held;
}

/** Why a key cannot be one, or undefined when it can. */
export function metadataKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'a key cannot be empty';
  if (key.length > METADATA_LIMITS.keyLength)
    return `a key has at most ${METADATA_LIMITS.keyLength} characters`;
  if (/[[\]]/.test(key)) return 'a key cannot hold square brackets';
  return undefined;
}

/**
 * The metadata after a change: each key given is set, or removed when its entry is null. Keys are
 * kept in the order they were first set.
 */
export function applyMetadataChange(held: HeldMetadata, change: MetadataChange): HeldMetadata {
  const next: HeldMetadata = { ...held };
  for (const [key, entry] of Object.entries(change)) {
    if (entry === null) delete next[key];
    else next[key] = { value: entry.value, digest: entry.digest };
  }
  return next;
}

/**
 * Why a change cannot be made to what is held (more keys than the limit after it), or undefined.
 * The merchant's own input is checked field by field by the API's schema; this is the total.
 */
export function metadataChangeProblem(held: HeldMetadata, change: MetadataChange): string | undefined {
  if (typeof change !== 'object' || change === null || Array.isArray(change))
    return 'a metadata change is an object of keys';
  for (const [key, entry] of Object.entries(change)) {
    const keyProblem = metadataKeyProblem(key);
    if (keyProblem !== undefined) return `${keyProblem}: ${JSON.stringify(key.slice(0, 50))}`;
    if (entry === null) continue;
    if (heldMetadataOf({ [key]: entry }) === undefined)
      return `the entry of ${JSON.stringify(key)} is not a value of at most ${METADATA_LIMITS.valueLength} characters with its digest`;
  }
  const count = Object.keys(applyMetadataChange(held, change)).length;
  if (count > METADATA_LIMITS.keys)
    return `metadata would have ${count} keys: at most ${METADATA_LIMITS.keys}`;
  return undefined;
}

/** The merchant's view: each key's value. */
export function metadataValues(held: HeldMetadata | undefined): Metadata {
  const values: Metadata = {};
  for (const [key, entry] of Object.entries(held ?? {})) values[key] = entry.value;
  return values;
}

/** The digests visibility lists by, in key order (sorted, so equal metadata gives an equal list). */
export function metadataDigests(held: HeldMetadata | undefined): string[] {
  return Object.keys(held ?? {})
    .sort()
    .map((key) => held![key]!.digest);
}

/** Whether two holdings show the merchant the same metadata. */
export function sameMetadata(a: Metadata, b: Metadata): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}
