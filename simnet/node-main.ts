/**
 * The process simnet starts for each of its nodes: `texmesh node` with simnet's
 * own options, turned into the node's hooks (node/daemon/hooks.ts): a modelled
 * or slowed recognition, a Byzantine voter, the fault routes of the local API.
 * Only simnet (and tests that start nodes the way it does) runs this file.
 */
import { Option } from 'commander'
import { buildProgram, runProgram } from '../node/cli/program.js'
import { pipelineCompute, shippedModelVersion } from '../node/daemon/compute.js'
import type { NodeHooks } from '../node/daemon/hooks.js'
import { ATTACKS, byzantineVoter, type Attack } from './byzantine.js'
import { latencyOption, modelledCompute, slowed } from './compute.js'
import { Rng } from '../formulas/rng.js'
import { sha256Hex } from '../util/sha256.js'

await runProgram(buildProgram({
  options: cmd => cmd
    .addOption(new Option('--modelled-compute <p50[,p95]>', 'replace recognition by a sleep with this median and 95th percentile (ms)').argParser(latencyOption('--modelled-compute')))
    .addOption(new Option('--slowdown <factor>', 'make this node this many times slower').argParser(Number).default(1))
    .addOption(new Option('--faults', 'fault routes (partitions, pauses, dials) in the local API'))
    .addOption(new Option('--byzantine <attack>', 'vote as a Byzantine node').choices(ATTACKS))
    .addOption(new Option('--seed <n>', 'seed of the node\'s random source (its protocols and modelled latencies); default: Math.random').argParser(Number)),
  hooks: async (o, config): Promise<NodeHooks> => {
    const opts = o as { modelledCompute?: [number, number], slowdown: number, faults?: boolean, byzantine?: Attack, seed?: number }
    const rng = opts.seed != null ? new Rng(opts.seed) : undefined
    const random = rng != null ? () => rng.next() : Math.random
    const base = opts.modelledCompute != null ? modelledCompute(opts.modelledCompute, sha256Hex, random) : pipelineCompute(await shippedModelVersion(), config.workers)
    return {
      compute: slowed(base, opts.slowdown),
      faults: opts.faults === true,
      ...(rng != null ? { random } : {}),
      ...(opts.byzantine != null ? { tamper: key => byzantineVoter(opts.byzantine!, key) } : {})
    }
  }
}))
