/**
 * `npm run codec-server`: the codec server for the Temporal Web UI and CLI (see app.ts), on
 * `CODEC_SERVER_HOST`:`CODEC_SERVER_PORT`, with the engine's `PAYLOAD_ENCRYPTION_KEYS`.
 *
 *   temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:8234 --codec-auth "Bearer <token>"
 */
import type { AddressInfo } from 'node:net';
import { loadConfigOrExit, parseList, warnAboutUnsafeSettings } from '../config';
import { createLogger } from '../logger';
import { payloadCodec } from '../temporal/data-converter';
import { buildCodecServer } from './app';

export function main(): void {
  const config = loadConfigOrExit();
  const logger = createLogger('codec-server', config.LOG_LEVEL);
  const tokens = parseList(config.CODEC_SERVER_TOKENS);
  if (tokens.length === 0) {
    if (config.NODE_ENV === 'production') {
      process.stderr.write(
        'invalid configuration:\n  - CODEC_SERVER_TOKENS: required in production (the codec server decrypts every payload)\n',
      );
      process.exit(78);
    }
    logger.warn(
      'UNSAFE CONFIGURATION (refused when NODE_ENV=production): CODEC_SERVER_TOKENS is empty: anyone who reaches the port can decrypt payloads',
    );
  }
  warnAboutUnsafeSettings(config, logger);
  const corsOrigins = parseList(config.CODEC_SERVER_CORS_ORIGINS);
  const codec = payloadCodec(config);
  const app = buildCodecServer({ codec, tokens, corsOrigins, logger });
  const server = app.listen(config.CODEC_SERVER_PORT, config.CODEC_SERVER_HOST);
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal(
      { reason: err.message, code: err.code },
      `cannot listen on CODEC_SERVER_PORT=${config.CODEC_SERVER_PORT}`,
    );
    process.exit(1);
  });
  server.on('listening', () => {
    const { port } = server.address() as AddressInfo;
    logger.info(
      {
        port,
        host: config.CODEC_SERVER_HOST,
        encryptingKey: codec.encryptingKeyId,
        corsOrigins,
        auth: tokens.length > 0,
      },
      `codec server listening on http://${config.CODEC_SERVER_HOST}:${port}`,
    );
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) main();
