/**
 * Bundles the `texmesh` command's modules (dist/bin/commands.js: the CLI, the daemon, simnet, and
 * the libraries they import) into dist/bin/bundle/: commands.js, and chunks for the modules
 * imported with `import()`, which load when they are. bin/texmesh.ts loads it when it is up to
 * date. Node.js then reads, resolves and compiles a few files instead of about two thousand:
 * measured in turn on this 2-core machine, `texmesh --help` took 0.41-0.52 s instead of
 * 0.68-0.81 s (training running), and a node holding 100,000 results answered on its API after
 * 0.66-0.71 s instead of 0.82-0.93 s (training paused). `npm run build` runs it after tsc.
 *
 * Left outside the bundle, imported from node_modules as before: packages with a native binding
 * (LevelDB, sharp, onnxruntime, usearch), files of their own that they find at run time (mupdf's
 * WASM, pino's worker-thread transports, MathJax's components), or that only some commands load,
 * when they first need them (KaTeX, pino-pretty, pino-roll). Our modules that find a file
 * beside them (the model, the web pages, a worker's script) do so with `import.meta.url`, which
 * in the bundle would name the bundle: each one's is put back to the URL of its compiled module.
 * bin/which-commands.ts says when the bundle is up to date. Stack traces name the bundle's lines;
 * TEXMESH_BUNDLE=0 runs the modules instead.
 */
import { build, type Plugin } from 'esbuild'
import { readFile, rm } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = join(root, 'dist')
/** The bundle's folder: the entry point (commands.js) and the chunks that modules imported with `import()` load from. */
const outdir = join(dist, 'bin', 'bundle')

const EXTERNAL_PACKAGES = [
  'classic-level', 'level', 'sharp', 'onnxruntime-node', 'usearch',
  'mupdf', 'pino', 'pino-pretty', 'pino-roll', 'mathjax-full', 'katex'
]

/** `import.meta.url` in a module of dist/ becomes its own URL, found from the bundle's. */
const ownUrls: Plugin = {
  name: 'own-import-meta-url',
  setup (b) {
    b.onLoad({ filter: /\.js$/ }, async args => {
      if (!args.path.startsWith(dist + sep)) return undefined
      const text = await readFile(args.path, 'utf8')
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' }
      const own = relative(outdir, args.path).split(sep).join('/')
      return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`), loader: 'js' }
    })
  }
}

await rm(outdir, { recursive: true, force: true })
await build({
  entryPoints: [join(dist, 'bin', 'commands.js')],
  outdir,
  bundle: true,
  // A module imported with import() becomes a chunk of its own, loaded when it is: otherwise the
  // packages it imports (MathJax for simnet's workload, 0.1 s) would load with every command.
  splitting: true,
  // In the output folder itself, not below it: ownUrls makes every path relative to that folder.
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external: EXTERNAL_PACKAGES,
  // CommonJS packages inside the bundle call require() for Node's own modules.
  banner: { js: "import { createRequire as __texmeshRequire } from 'node:module'; const require = __texmeshRequire(import.meta.url);" },
  plugins: [ownUrls],
  // Classes keep their names where two modules' would clash (logs name an error's class).
  keepNames: true,
  logLevel: 'warning'
})
