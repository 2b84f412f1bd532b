/** `texmesh config show`: the effective settings and where each comes from. */
import type { Command } from 'commander'
import type { NodeConfig } from '../datadir/config.js'
import { configFlags, resolvedConfig, withNodeFlags } from './node.js'
import { dataDirOf, print, withDataDir, withJson, type CommonOptions } from './options.js'

export function addConfigCommand (program: Command): void {
  const config = program.command('config').description('node configuration')
  withNodeFlags(withJson(withDataDir(config.command('show'))))
    .description('print the effective configuration and where each value comes from (default, file, env, flag): the running node\'s, or what a new start would use')
    .action(async (opts: CommonOptions, cmd: Command) => {
      const dataDir = dataDirOf(opts)
      const running = await dataDir.runtime()
      const flagsGiven = Object.keys(configFlags(cmd)).length > 0
      // A node running on this data dir: what it actually uses (its flags included), unless flags ask what a new start would do.
      const resolved = running?.config != null && !flagsGiven
        ? { config: running.config as unknown as NodeConfig, sources: (running.sources ?? {}) as Record<keyof NodeConfig, string> }
        : await resolvedConfig(cmd, dataDir)
      if (running != null && opts.json !== true) {
        process.stderr.write(running.config != null && !flagsGiven
          ? `texmesh: the node running on this data dir (pid ${running.pid}) uses this configuration; changes take effect when it restarts\n`
          : `texmesh: a node runs on this data dir (pid ${running.pid}); this is what a new start would use\n`)
      }
      const network = await dataDir.network()
      const data = { dataDir: dataDir.paths.root, configFile: dataDir.paths.config, ...resolved, network: network?.name ?? null }
      const shown = Object.entries(resolved.config)
      const rows: Array<[string, string]> = [['data dir', data.dataDir], ['config file', data.configFile], ['network', data.network ?? 'open'],
        ...shown.map(([k, v]): [string, string] => [k, `${JSON.stringify(v)}  (${resolved.sources[k as keyof NodeConfig]})`])]
      const width = Math.max(...rows.map(([k]) => k.length)) + 2
      print(opts.json, data, () => rows.map(([k, v]) => k.padEnd(width) + v).join('\n'))
    })
}
