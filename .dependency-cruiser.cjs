/**
 * The import rules `npm run check:deps` (part of `npm test`) enforces on src/ — the layering of
 * the README's Architecture section. Type-only imports count: a cycle through types is still a
 * cycle for a reader, and it is how the services → jobs → services loop once grew.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle in src/ (type-only imports included).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'providers-stand-alone',
      comment: 'providers/ never imports db/ or jobs/ (the port speaks our types, not our tables or queues).',
      severity: 'error',
      from: { path: '^src/providers/' },
      to: { path: '^src/(db|jobs)/' },
    },
    {
      name: 'db-below-services',
      comment: 'db/ never imports services/ or api/.',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/(services|api)/' },
    },
    {
      name: 'services-below-api',
      comment: 'services/ never imports api/ (wire formats live with the routes).',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'api-through-services',
      comment: 'api/ reaches providers only through services/.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/providers/' },
    },
    {
      name: 'catalog-imports-only-lib',
      comment: 'jobs/catalog.ts imports only zod and lib/, so anyone may enqueue without importing handlers.',
      severity: 'error',
      from: { path: '^src/jobs/catalog\\.ts$' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'lib-at-the-bottom',
      comment: 'lib/ imports nothing above it.',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'sandbox-shares-only-lib',
      comment: 'sandbox/ shares nothing with the product but lib/ (it must not reuse the adapters it tests).',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/', pathNot: '^src/(sandbox|lib)/' },
    },
    {
      name: 'product-does-not-import-sandbox',
      comment: 'Only the CLI (ec sandbox, ec demo) starts the sandbox.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(sandbox|cli|bin)/' },
      to: { path: '^src/sandbox/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too (they are erased at runtime, not for the reader).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js'],
    },
    exclude: { path: '\\.test\\.ts$' },
  },
};
