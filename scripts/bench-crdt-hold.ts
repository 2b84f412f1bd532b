/**
 * bench:crdt's child: open the replica in argv[2] with the key (protobuf, hex) in
 * TEXMESH_BENCH_KEY, and print as JSON how long the open took, how many envelopes it replayed,
 * and what holding it costs this fresh process: its RSS and V8
 * heap growth from before the open, after full garbage collections (run with --expose-gc), and
 * how many results it holds.
 */
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { Replica } from '../crdt/replica.js'

function settled (): { rss: number, heap: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc == null) throw new Error('run with node --expose-gc')
  gc()
  gc()
  const m = process.memoryUsage()
  return { rss: m.rss, heap: m.heapUsed }
}

const path = process.argv[2]
const key = process.env.TEXMESH_BENCH_KEY
if (path == null || key == null) throw new Error('usage: TEXMESH_BENCH_KEY=HEX node --expose-gc bench-crdt-hold.js DIR')
const privateKey = privateKeyFromProtobuf(Buffer.from(key, 'hex'))
if (privateKey.type !== 'Ed25519') throw new Error(`an ${privateKey.type} key; a replica is keyed by Ed25519`)
const before = settled()
const t = performance.now()
const replica = await Replica.open({ path, key: privateKey })
const openMs = performance.now() - t
const held = settled()
console.log(JSON.stringify({ results: replica.size('results'), openMs, replayed: replica.startup.replayed, rss: held.rss - before.rss, heap: held.heap - before.heap }))
await replica.close()
