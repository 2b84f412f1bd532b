#!/usr/bin/env -S node --max-semi-space-size=32
// The package's entry point: node's commands and simnet's. Kept free of static
// imports so an old Node.js gets a clear sentence instead of a stack trace from
// deep inside libp2p.
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number]
if (major < 22 || (major === 22 && minor < 2)) {
  process.stderr.write(`texmesh: needs Node.js 22.2 or newer; this is ${process.version}. Inside the project, npm scripts use the Node.js it installs (npm run texmesh -- ...).\n`)
  process.exit(1)
}
// Compiled code kept on disk across runs (in the temp dir, a folder for each user): a command's
// modules load in 0.94-1.03 s instead of 1.10-1.26 s (measured in turn on this 2-core machine).
const { enableCompileCache } = await import('node:module')
const { tmpdir } = await import('node:os')
enableCompileCache(`${tmpdir()}/texmesh-compile-cache-${process.getuid?.() ?? 'user'}`)
// The commands from their bundle (dist/bin/bundle/) when it is up to date (bin/which-commands.ts):
// a node's API answers 0.2-0.3 s sooner, as does every command.
const { chooseCommands } = await import('./which-commands.js')
const commands = chooseCommands(new URL('./', import.meta.url)).bundle
  ? await import(new URL('./bundle/commands.js', import.meta.url).href) as typeof import('./commands.js')
  : await import('./commands.js')
await commands.runProgram(commands.buildProgram(undefined, commands.addSimnetCommand))
