// Which copy of the commands bin/texmesh.ts loads: the bundle `npm run build` makes of them
// (dist/bin/bundle/commands.js, scripts/build-bundle.ts) or the compiled modules. Imports only
// Node's own `fs`, so that the entry point stays quick and free of static imports.
import { statSync } from 'node:fs'

/** How much newer than the bundle a file may be and still count as made with it: installing a packed tarball writes the files in turn, a few ms apart. */
export const SAME_BUILD_MS = 5_000

export interface CommandsChoice {
  bundle: boolean
  /** why, in a few words, for benches and for someone wondering which code ran */
  why: string
}

const modified = (url: URL): number | undefined => statSync(url, { throwIfNoEntry: false })?.mtimeMs

/**
 * The bundle, unless TEXMESH_BUNDLE=0 asks for the modules, it is missing, or it is older than
 * what it was made from: the compiled modules (a bare `tsc` rewrites them all, commands.js
 * included) or the installed packages (npm records every install in node_modules/.package-lock.json,
 * and `npm install PACKAGE` does not build again). `tsc --watch` rewrites only the files that
 * changed: run it with TEXMESH_BUNDLE=0, or `npm run build` after it.
 */
export function chooseCommands (binDir: URL, env: NodeJS.ProcessEnv = process.env): CommandsChoice {
  if (env.TEXMESH_BUNDLE === '0') return { bundle: false, why: 'TEXMESH_BUNDLE=0' }
  const bundle = modified(new URL('bundle/commands.js', binDir))
  if (bundle == null) return { bundle: false, why: 'no bundle (npm run build makes it)' }
  const newer = (url: URL): boolean => (modified(url) ?? -Infinity) > bundle + SAME_BUILD_MS
  if (newer(new URL('commands.js', binDir))) return { bundle: false, why: 'the bundle is older than the compiled modules' }
  if (newer(new URL('../../node_modules/.package-lock.json', binDir))) return { bundle: false, why: 'the bundle is older than the installed packages' }
  return { bundle: true, why: 'the bundle' }
}
