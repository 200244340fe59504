/**
 * The engine's layers, checked by `npm run lint` (dependency-cruiser). Type-only imports count
 * (`tsPreCompilationDeps`): a circle closed by `import type` is still a circle.
 *
 *   src/domain          pure state, decisions and reducers: imports only the domain (no Temporal,
 *                       no Express, no HTTP, no gateway, no package at all)
 *   src/gateways/<name> one folder per gateway: its own files, the port (port, calendar)
 *                       and the domain, and packages; never the engine's workflows, activities or API
 *   src/workflows       the Temporal workflows: the domain, the contracts, the port's plain data
 *                       and Temporal's workflow API; never an activity's code, the API or a gateway's
 *                       folder
 *
 * `test/unit/layers.test.ts` plants a circle and a domain file importing `@temporalio/workflow`,
 * and expects this configuration to refuse both.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files that import each other, type imports included: one of them belongs lower down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'The domain imports only the domain: no Temporal, Express, HTTP, gateway or package.',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'gateway-sees-port-and-domain',
      severity: 'error',
      comment:
        'A gateway folder imports its own files, the port, the emulators’ shared test clocks and the domain (and packages).',
      from: { path: '^src/gateways/([^/]+)/', pathNot: '\\.test\\.ts$' },
      to: {
        pathNot: [
          '^src/gateways/$1/',
          '^src/gateways/(port|calendar|test-clock-header|emulator-test-clocks)\\.ts$',
          '^src/domain/',
          '^src/dev/free-ports\\.ts$',
          'node_modules',
        ],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'workflows-see-domain-and-contracts',
      severity: 'error',
      comment:
        'Workflows import the domain, the contracts (types), the port’s plain data and Temporal’s workflow API.',
      from: { path: '^src/workflows/' },
      to: {
        pathNot: [
          '^src/workflows/',
          '^src/domain/',
          '^src/activities/contracts\\.ts$',
          '^src/gateways/port\\.ts$',
          '^src/events/merchant-events\\.ts$',
          'node_modules/@temporalio/(workflow|common)/',
        ],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|\\.cache|\\.stryker-tmp)/' },
  },
};
