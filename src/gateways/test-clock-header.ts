/**
 * The emulator-only header that names the test clock a gateway call is for (the clock's own world
 * at a gateway's emulator). No real gateway has such a thing: the engine sends it only for what it
 * makes on a test clock, which exists only where the gateways are emulators. Every emulator
 * (QFPay's, QorePay's, MadFintech's) reads it on its API and control calls, and sends it with the
 * notifications of a clock's world.
 */
export const TEST_CLOCK_HEADER = 'x-emulator-test-clock';

/** What a test clock id may be at an emulator: what the engine's ids are made of, and short. */
export const TEST_CLOCK_ID = /^[A-Za-z0-9_-]{1,64}$/;
