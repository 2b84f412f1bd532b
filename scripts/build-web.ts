/**
 * Bundles the web interface (web/) into dist/web at build time: esbuild makes one ES module
 * (Preact, KaTeX and the pages) and copies index.html, the style sheet and KaTeX's CSS and fonts,
 * so the page loads nothing from anywhere but the node. `npm run build` runs it after tsc.
 */
import { build } from 'esbuild'
import { cp, mkdir, copyFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const out = join(root, 'dist', 'web')
const assets = join(out, 'assets')
const katexDist = join(dirname(createRequire(import.meta.url).resolve('katex/package.json')), 'dist')

await mkdir(join(assets, 'katex'), { recursive: true })
const result = await build({
  entryPoints: [join(root, 'web', 'main.tsx')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: join(assets, 'app.js'),
  legalComments: 'linked',
  logLevel: 'warning'
})
if (result.errors.length > 0) process.exit(1)
await copyFile(join(root, 'web', 'index.html'), join(out, 'index.html'))
await copyFile(join(root, 'web', 'style.css'), join(assets, 'app.css'))
await copyFile(join(katexDist, 'katex.min.css'), join(assets, 'katex', 'katex.min.css'))
await cp(join(katexDist, 'fonts'), join(assets, 'katex', 'fonts'), { recursive: true, filter: (f) => !/\.(ttf|woff)$/.test(f) })
