/**
 * The failure converter of every client and worker of the engine, including the workflow sandbox
 * (the workflow bundle is built with this path): error messages and stack traces travel as an
 * encoded payload (`encodedAttributes`), so the payload codec encrypts them like any other data.
 * An error message can quote a customer's details, and a stack trace names the code it ran.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
