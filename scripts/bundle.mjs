// Bundles the compiled `assay` command (dist/cli/main.js and the modules it loads) into a few
// files under dist/bundle, which `bin` and `npm start` run.
//
// Why: Node 20 has no module compile cache, and resolving, reading and linking ~1,000 separate
// files of assay and its packages was most of a server's start (see docs/benchmarks.md, step 40).
// Splitting keeps the lazy loading the source does with `import()`: `assay keys` does not load
// the server, an embedded server does not load PostgreSQL's modules.
//
// The layout is part of the contract with the source:
// - dist/bundle is one level under dist, as dist/cli is, so `new URL('../../package.json',
//   import.meta.url)` still finds package.json;
// - the entry points a module starts by file name (the engine thread, the checkpointer) are
//   entries here too, with their own names, in the same folder as the code that starts them;
// - the web UI's assets stay in dist/web (`locateWebAssets` looks there from dist/bundle).
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js', 'dist/runtime/engine-thread-entry.js', 'dist/backends/embedded/checkpointer-main.js'],
  outdir,
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Native addons stay in node_modules: better-sqlite3 finds its binary from its own folder, and
  // pg-native is an optional package pg only tries.
  external: ['better-sqlite3', 'pg-native'],
  // The CommonJS packages inside an ES module bundle call `require` for Node's built-ins.
  banner: { js: "import { createRequire as __assayCreateRequire } from 'node:module'; const require = __assayCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  // Stack traces name bundle files; `node --enable-source-maps` maps them back to dist/'s modules
  // (Node reads the maps only with that flag, so a start costs nothing more).
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  metafile: true,
});

// Which modules each output file holds, for the tests that check which ones a command loads
// (test/cli/bundle.test.ts): { "main.js": ["dist/cli/main.js", ...], "chunk-….js": [...] }.
const contents = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js')) contents[file.slice('dist/bundle/'.length)] = Object.keys(output.inputs);
}
writeFileSync(`${outdir}/modules.json`, `${JSON.stringify(contents)}\n`);
