/**
 * The emulator-only header that names the test clock a QFPay call is for (the clock's own world
 * at the emulator). QFPay has no such thing: the engine sends it only for what it makes on a test
 * clock, which exists only where the gateways are emulators.
 */
export const TEST_CLOCK_HEADER = 'x-emulator-test-clock';
