// The layering rule of nnlock (docs/ARCHITECTURE.md), checked by `npm run lint:layers`
// (scripts/check-layers.mjs) and by scripts/test.sh:
//
//   tensor ← ops ← nn ← models ← train        the core chain (an arrow points at what may import)
//   tensor ← distributed ← train              c10d (store, groups, collectives) below train
//   io, data, crypto, linalg                  below the features, never importing them
//   protect · cipher ← attacks ← er           the features; er and attacks may import cipher,
//                                             er may import attacks; protect stands alone
//   serve                                     the HTTP service: above the features, below cli;
//                                             nothing else in src/ imports it
//   audit                                     above protect: the detectors and the attack harness
//                                             read protected models; only the top imports audit
//   cli, bench, experiments                   on top; nothing in src/ imports them
//   web                                       the page (src/web/browser: runs in the browser,
//                                             imports only itself, linalg and the shared pure
//                                             modules below) and its plugin
//   shared pure modules                       src/crypto/stream-sampler.ts, src/cipher/derivation.ts:
//                                             the cipher-key rules the server and the page both
//                                             run; they import only linalg and each other
//
// dependency-cruiser 17 reads TypeScript only through TypeScript < 7, and this project uses
// TypeScript 7, so check-layers.mjs compiles the sources with tsc into a temporary folder of the
// same layout and runs the check on that JavaScript: paths below are the sources' own. A type-only
// import (`import type`) is erased by the compiler and so escapes this check.
const CORE = '(native|tensor|ops|nn|models|train|distributed|io|data|crypto|linalg)';
const FEATURES = '(protect|cipher|attacks|er|audit)';
/** Modules the page shares with the server: plain TypeScript, no node: modules, no addon. */
const SHARED_PURE = '(src/crypto/stream-sampler|src/cipher/derivation)\\.[jt]s';

/** "from may not import to", named so a failure says which part of the rule broke. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    forbid('tensor-below-ops', 'tensor is the bottom of the core chain: it imports no ops, nn, models or train', '^src/tensor/', '^src/(ops|nn|models|train)/'),
    forbid('ops-below-nn', 'ops sit on tensor only: they import no nn, models or train', '^src/ops/', '^src/(nn|models|train)/'),
    forbid('nn-below-models', 'nn (modules, layers, optimizers) imports no models or train', '^src/nn/', '^src/(models|train)/'),
    forbid('distributed-below-train', 'distributed (c10d) sits on tensor: it imports no ops, nn, models or train', '^src/distributed/', '^src/(ops|nn|models|train)/'),
    forbid('tensor-and-ops-import-no-distributed', 'tensor and ops know nothing of processes and groups', '^src/(tensor|ops)/', '^src/distributed/'),
    forbid('models-below-train', 'models import no train', '^src/models/', '^src/train/'),
    forbid('core-below-features', 'the core (tensor … train, io, data, crypto, linalg) imports no feature', `^src/${CORE}/`, `^src/${FEATURES}/`),
    forbid('cipher-imports-no-feature', 'cipher is the base of attacks and er: it imports neither (nor protect)', '^src/cipher/', '^src/(attacks|er|protect)/'),
    forbid('attacks-never-import-er', 'attacks may import cipher, never er (nor protect)', '^src/attacks/', '^src/(er|protect)/'),
    forbid('er-imports-no-protect', 'er may import cipher and attacks, not protect', '^src/er/', '^src/protect/'),
    forbid('protect-stands-alone', 'protect imports no other feature', '^src/protect/', '^src/(cipher|attacks|er|audit)/'),
    forbid(
      'web-browser-is-pure',
      "the page's code (src/web/browser) runs in the browser: it imports only itself, the plain-JavaScript linear algebra (src/linalg) and the shared pure modules, never node: modules, npm packages or anything that loads the native addon",
      '^src/web/browser/',
      `^(?!src/web/browser/|src/linalg/|${SHARED_PURE}$)`,
    ),
    forbid(
      'shared-modules-are-pure',
      'the modules the page shares with the server (the cipher-key rules) import only linalg and each other: the page runs them in the browser',
      `^${SHARED_PURE}$`,
      `^(?!src/linalg/|${SHARED_PURE}$)`,
    ),
    forbid(
      'nothing-imports-web',
      'src/web (the page and its fastify plugin) sits on top, beside cli: nothing else in src/ imports it except the server and the CLI',
      '^src/(?!web/|serve/|cli/)',
      '^src/web/',
    ),
    forbid(
      'only-cli-imports-serve',
      'serve (the HTTP service) sits above the features and below cli: nothing else in src/ imports it (the web page, src/web, may use its types and errors)',
      '^src/(?!serve/|cli/|web/)',
      '^src/serve/',
    ),
    forbid('serve-imports-no-cli', 'serve is below cli', '^src/serve/', '^src/cli/'),
    forbid('audit-above-features', 'audit may import protect (and the core); no feature imports audit', '^src/(protect|cipher|attacks|er)/', '^src/audit/'),
    forbid('audit-imports-protect-only', 'audit studies protected models: it imports protect, not cipher, attacks or er', '^src/audit/', '^src/(cipher|attacks|er)/'),
    forbid('src-imports-no-cli', 'nothing in src/ outside src/cli imports the CLI', '^src/(?!cli/)', '^src/cli/'),
    forbid('src-imports-no-bench-or-experiments', 'nothing in src/ imports bench/ or experiments/', '^src/', '^(bench|experiments)/'),
    {
      name: 'no-cycles-between-folders',
      comment: "no import cycle runs through two folders of src/ (a cycle inside one folder is that folder's business)",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { circular: true, pathNot: '^src/$1/' },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import that does not resolve would hide a dependency from every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    moduleSystems: ['es6', 'cjs'],
    // Resolve packages through their package.json "exports" as Node does: an ESM-only package with
    // no "main" (fast-png) is otherwise unresolvable to dependency-cruiser's default resolver.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
