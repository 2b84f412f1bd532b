import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startNode, type RunningNode } from '../node/daemon/start.js'
import { DEFAULT_CONFIG, type NodeConfig } from '../node/datadir/config.js'
import { createLog } from '../node/log.js'
import { modelledCompute } from '../simnet/compute.js'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { clientIdFor, encodeEnvelope, newIncarnation, signEnvelope } from '../crdt/envelope.js'
import { NODE_V8_FLAGS } from '../node/v8-flags.js'

export const CLI = fileURLToPath(new URL('../bin/texmesh.js', import.meta.url))
/** The process simnet starts for a node: `texmesh node` with simnet's options (--modelled-compute, --byzantine, ...). */
export const SIMNET_NODE = fileURLToPath(new URL('../simnet/node-main.js', import.meta.url))

/** A temp dir removed by the returned cleanup. */
export async function tempDir (prefix = 'texmesh-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Poll until `check` returns a truthy value, or fail after `timeoutMs` with `what` in the message. */
export async function waitFor<T> (what: string, check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value != null && value !== false) return value as NonNullable<T>
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last != null ? ` (last error: ${(last as Error).message})` : ''}`)
}

/** A node on loopback with OS-chosen ports and no LAN discovery unless asked. */
/** Settings for a test node, and `modelledCompute`: a modelled sleep (simnet/compute.ts) in place of the model. */
export type TestNodeOptions = Partial<NodeConfig> & { modelledCompute?: [number, number] }

export async function startTestNode (dataDir: string, options: TestNodeOptions = {}): Promise<RunningNode> {
  const { modelledCompute: modelled, ...config } = options
  return await startNode({
    dataDir,
    config: { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'silent', ...config },
    log: createLog(process.env.TEXMESH_TEST_LOG_LEVEL as NodeConfig['logLevel'] ?? 'silent'),
    ...(modelled != null ? { hooks: { compute: modelledCompute(modelled) } } : {})
  })
}

/**
 * `count` test nodes, each bootstrapped from the first, once every one is connected to all the
 * others; their data dirs and nodes are pushed onto `dirs` and `nodes` (for stopNodes to end).
 */
export async function startConnectedNodes (count: number, dirs: string[], nodes: RunningNode[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = await tempDir()
    dirs.push(dir)
    nodes.push(await startTestNode(dir, i === 0 ? {} : { bootstrap: [nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()] }))
  }
  await waitFor(`${count} connected nodes`, () => nodes.every(n => n.libp2p.getPeers().length === count - 1), 30_000)
}

export async function stopNodes (dirs: string[], nodes: RunningNode[]): Promise<void> {
  for (const n of nodes) await n.stop()
  for (const d of dirs) await removeDir(d)
}

/** A TCP port free right now on 127.0.0.1. */
export { freePort } from '../simnet/cluster.js'

export interface CliResult { code: number | null, stdout: string, stderr: string }

/** Run the texmesh CLI to completion (bounded by `timeoutMs`). */
export async function runCli (args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CliResult> {
  const child = spawnCli(args, options.env)
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  const result = await collect(child)
  clearTimeout(timer)
  return result
}

export function spawnCli (args: string[], env?: NodeJS.ProcessEnv, entry = CLI): ChildProcess {
  return spawn(process.execPath, [...NODE_V8_FLAGS, entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
}

export async function collect (child: ChildProcess): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  return { code, stdout, stderr }
}

/**
 * A validly signed envelope by `key` that writes, under its own evidence key, an array nested
 * `depth` levels deep: built by splicing lib0's encoding of the nesting (array tag 117, length 1,
 * ..., null 126) in place of a placeholder string, as an attacker would (encoding such a value
 * with Yjs itself would overflow the encoder's stack).
 */
export async function deepEnvelope (key: Ed25519PrivateKey, author: string, depth: number): Promise<Uint8Array> {
  const incarnation = newIncarnation()
  const client = clientIdFor(key.publicKey.raw, incarnation)
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getMap('evidence').set(`voter!task/${author}`, { votes: ['PLACEHOLDER-PLACEHOLDER', 'x'], time: 1 })
  const update = Y.encodeStateAsUpdate(doc)
  const marker = new TextEncoder().encode('PLACEHOLDER-PLACEHOLDER')
  const at = Buffer.from(update).indexOf(Buffer.from(marker)) - 2 // the string tag (119) and its length (23)
  assert.ok(at > 0 && update[at] === 119)
  const deep = new Uint8Array(2 * depth + 1)
  for (let i = 0; i < depth; i++) deep.set([117, 1], 2 * i)
  deep[2 * depth] = 126
  const spliced = Uint8Array.from([...update.subarray(0, at), ...deep, ...update.subarray(at + 2 + marker.length)])
  return encodeEnvelope(await signEnvelope(key, author, { incarnation, client, first: 0, seq: 0, update: spliced }))
}
