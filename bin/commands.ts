// What the `texmesh` command runs: node's commands and simnet's. bin/texmesh.ts loads it from
// the bundle `npm run build` makes of it (dist/bin/bundle/commands.js, scripts/build-bundle.ts)
// when that is up to date, and from the compiled modules otherwise.
export { buildProgram, runProgram } from '../node/cli/program.js'
export { addSimnetCommand } from '../simnet/command.js'
