/**
 * Reads a service of `docker-compose.yml` the way Compose would hand it to the container: its
 * `environment` with `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and
 * `${VAR?message}` interpolated, and its bind mounts. `npm run cluster` runs the same jobs and the
 * same Temporal server configuration as the compose file, from these values, on the host.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..', '..');
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

interface ComposeService {
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
}

/** A variable Compose would refuse (`${VAR:?message}` with VAR unset). */
export class ComposeVariableError extends Error {
  override readonly name = 'ComposeVariableError';
}

/** Compose's interpolation of one value; `$$` is a literal `$`. */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^}\\]|\\.)*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, colon?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const v = vars[name!];
      const unset = colon ? v === undefined || v === '' : v === undefined;
      if (op === '-') return unset ? interpolate(arg ?? '', vars) : v!;
      if (op === '?') {
        if (unset) throw new ComposeVariableError(`${name}: ${arg || 'required by docker-compose.yml'}`);
        return v!;
      }
      return v ?? '';
    },
  );
}

function service(name: string, file: string): ComposeService {
  const doc = parse(readFileSync(file, 'utf8')) as { services?: Record<string, ComposeService> };
  const found = doc.services?.[name];
  if (!found) throw new Error(`${file} has no service ${name}`);
  return found;
}

/** The environment Compose gives service `name`, interpolated with `vars`. */
export function composeEnvironment(
  name: string,
  vars: Record<string, string | undefined>,
  file = COMPOSE_FILE,
): Record<string, string> {
  const { environment = {} } = service(name, file);
  const entries: Array<[string, string]> = Array.isArray(environment)
    ? environment.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, vars[line] ?? ''] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(environment).map(([k, v]) => [k, v === null ? (vars[k] ?? '') : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, vars)]));
}

/**
 * The host path behind `containerPath` in service `name`'s bind mounts (relative sources are
 * relative to the compose file), or undefined when no mount covers it.
 */
export function composeHostPath(
  name: string,
  containerPath: string,
  file = COMPOSE_FILE,
): string | undefined {
  for (const volume of service(name, file).volumes ?? []) {
    const [source, target] = typeof volume === 'string' ? volume.split(':') : [volume.source, volume.target];
    if (!source || !target || !/^[./]/.test(source)) continue; // named volumes have no host path
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return join(resolve(file, '..', source), containerPath.slice(target.length));
    }
  }
  return undefined;
}

/**
 * The command line of a one-shot service whose entrypoint and command are lists (as the
 * compose file's jobs are), with files mounted from the repository mapped to their host paths.
 */
export function composeJobCommand(name: string, file = COMPOSE_FILE): string[] {
  const { entrypoint = [], command = [] } = service(name, file);
  if (typeof entrypoint === 'string' || typeof command === 'string') {
    throw new Error(`${file}: service ${name} needs list-form entrypoint and command`);
  }
  return [...entrypoint, ...command].map((arg) => composeHostPath(name, arg, file) ?? arg);
}
