/**
 * One rule for "this address is an emulator on this machine", shared by the configuration (which
 * refuses a development default against a real gateway) and the gateways (which find an
 * emulator's root behind its API URL).
 */

/** Whether a URL's host is this machine, or one of an emulator's other host names (a compose service's). */
export function isLoopbackHost(host: string, emulatorHosts: readonly string[] = []): boolean {
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.') || emulatorHosts.includes(host);
}
