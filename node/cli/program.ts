/**
 * The `texmesh` command. Every subcommand but ocr and simnet takes --data-dir;
 * those whose output is data take --json. Errors, usage errors included, print
 * one line on stderr and exit non-zero.
 */
import { Command } from 'commander'
import { ENV_VARS } from '../datadir/config.js'
import { TexmeshError } from '../errors.js'
import { ModelFileError } from '../../pipeline/model-error.js'
import { VERSION } from '../version.js'
import { addConfigCommand } from './config.js'
import { addDeleteCommand, addRetryCommand } from './documents.js'
import { addNetworkCommands } from './network.js'
import { addNodeCommand, type NodeCommandExtension } from './node.js'
import { addOcrCommand } from './ocr.js'
import { addOpenCommand } from './open.js'
import { addReviewCommands } from './review.js'
import { addSearchCommand } from './search.js'
import { addStatusCommands } from './status.js'
import { addStopCommand } from './stop.js'
import { addSubmitCommands, addTasksCommand } from './tasks.js'
import { addVerifyCommand } from './verify.js'

/**
 * The `texmesh` program, one file per command; `extension` adds a harness's options and hooks to
 * its `node` command, and `more` adds commands of other folders (the entry point: simnet's).
 */
export function buildProgram (extension?: NodeCommandExtension, more?: (program: Command) => void): Command {
  const program = new Command()
  program
    .name('texmesh')
    .description('A peer-to-peer network of nodes that turn images of printed mathematics into LaTeX.')
    .version(VERSION)
    .addHelpText('after', `
Environment:
  TEXMESH_HOME       data directory (default ~/.texmesh)
  ${Object.values(ENV_VARS).join(', ')}
                     node settings; flags win over these, these over <data-dir>/config.json`)
  addNodeCommand(program, extension)
  addStopCommand(program)
  addStatusCommands(program)
  addOpenCommand(program)
  addOcrCommand(program)
  addSubmitCommands(program)
  addVerifyCommand(program)
  addReviewCommands(program)
  addSearchCommand(program)
  addTasksCommand(program)
  addRetryCommand(program)
  addDeleteCommand(program)
  more?.(program)
  addConfigCommand(program)
  addNetworkCommands(program)
  return program
}

/**
 * Usage errors (an unknown option, a missing argument) in one line like every other error,
 * with the command whose --help says more, instead of commander's "error: ..." and the whole help.
 */
function oneLineUsageErrors (cmd: Command): void {
  const names: string[] = []
  for (let c: Command | null = cmd; c != null; c = c.parent) names.unshift(c.name())
  cmd.configureOutput({ outputError: (str, write) => { write(`texmesh: ${str.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see ${names.join(' ')} --help)\n`) } })
  for (const sub of cmd.commands) oneLineUsageErrors(sub)
}

/** Run a program on this process's arguments: errors as one line on stderr, and the exit code. */
export async function runProgram (program: Command): Promise<void> {
  oneLineUsageErrors(program)
  program.exitOverride()
  try {
    await program.parseAsync(process.argv)
  } catch (err: any) {
    if (typeof err?.code === 'string' && err.code.startsWith('commander.')) {
      process.exit(err.exitCode ?? 2)
    }
    // A model folder that cannot be used is the user's to fix, not a bug: its message says what.
    if (err instanceof TexmeshError || err instanceof ModelFileError) {
      process.stderr.write(`texmesh: ${err.message}\n`)
      process.exit(1)
    }
    process.stderr.write(`texmesh: unexpected error: ${err?.stack ?? String(err)}\n`)
    process.exit(1)
  }
}
