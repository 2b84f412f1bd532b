/** `texmesh stop`: stop the node running on a data dir cleanly (as Ctrl-C does), and wait until it has. */
import type { Command } from 'commander'
import { setTimeout as sleep } from 'node:timers/promises'
import { NodeNotRunningError, TexmeshError } from '../errors.js'
import { isRunning } from '../datadir/datadir.js'
import { dataDirOf, parsePositive, print, withDataDir, withJson, type CommonOptions } from './options.js'

/** How often the stopping node is looked at. */
const POLL_MS = 100

export function addStopCommand (program: Command): void {
  withJson(withDataDir(program.command('stop')))
    .description('stop the node running on this data dir cleanly: running tasks finish, the store is closed (as Ctrl-C does)')
    .option('--timeout <seconds>', 'how long to wait for it to stop', parsePositive('--timeout', 3600), 60)
    .action(async (opts: CommonOptions & { timeout: number }) => {
      const dataDir = dataDirOf(opts)
      // runtime() is undefined for a node that is not running, and for a stale file whose pid went to another process.
      const runtime = await dataDir.runtime()
      if (runtime == null) throw new NodeNotRunningError(`no texmesh node is running on data dir ${dataDir.paths.root}`)
      const { pid, peerId } = runtime
      try {
        process.kill(pid, 'SIGTERM')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPERM') throw new TexmeshError(`the node on ${dataDir.paths.root} (pid ${pid}) belongs to another user: stop it as that user`)
        throw new NodeNotRunningError(`the node on ${dataDir.paths.root} (pid ${pid}) has just stopped`)
      }
      const started = Date.now()
      // Until the process has gone (a new process given its pid meanwhile is not it).
      while (isRunning(runtime)) {
        if (Date.now() - started > opts.timeout * 1000) {
          throw new TexmeshError(`the node (pid ${pid}) has not stopped after ${opts.timeout} s: it may still be finishing tasks; wait, or force it with: kill -9 ${pid}`)
        }
        await sleep(POLL_MS)
      }
      print(opts.json, { stopped: true, peerId, pid, ms: Date.now() - started }, () => `stopped node ${peerId} (pid ${pid}) in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    })
}
