/**
 * The emulator-only header that names the test clock a QFPay call is for (the clock's own world
 * at the emulator). QFPay has no such thing: the engine sends it only for what it makes on a test
 * clock, which exists only where the gateways are emulators.
 */
export const TEST_CLOCK_HEADER = 'x-emulator-test-clock';

/** What a test clock id may be at the emulator: what the engine's ids are made of, and short. */
export const TEST_CLOCK_ID = /^[A-Za-z0-9_-]{1,64}$/;
