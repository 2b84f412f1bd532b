/**
 * A child process for the kill -9 tests: opens a replica and writes results
 * without end, printing "acked N" once write N has resolved.
 *
 * argv: PATH KEY_HEX [MODE]; MODE is
 * - "serial" (the default): one write at a time, each in its own envelope;
 * - "batched": 100 writes at a time, which share envelopes (group commit);
 * - "apply": a second replica (in PATH-writer, a fresh key, printed as "writer PEER_ID") writes
 *   100 at a time, and the replica in PATH applies its envelopes, each a batch of results:
 *   "acked N" once the envelope holding result N is applied.
 */
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { Replica } from '../../crdt/replica.js'
import { decodeEnvelope } from '../../crdt/envelope.js'

const [path, keyHex, mode = 'serial'] = process.argv.slice(2)
const key = privateKeyFromProtobuf(Buffer.from(keyHex!, 'hex')) as Ed25519PrivateKey
const replica = await Replica.open({ path: path!, key })
const entry = (i: number): Parameters<Replica['putResult']>[1] => ({ latex: `x^{${i}}`, confidence: 0.5, alternatives: [], model: 'm', time: i })
const ack = (i: number): void => { process.stdout.write(`acked ${i}\n`) }

if (mode === 'serial') {
  process.stdout.write('ready\n')
  for (let i = 0; ; i++) {
    await replica.putResult(`image-${i}`, entry(i))
    ack(i)
  }
}

// Writes 100 at a time on `writer`, each acknowledged as it resolves when `acks` is set.
async function writeInWindows (writer: Replica, acks: boolean): Promise<never> {
  for (let i = 0; ; i += 100) {
    await Promise.all(Array.from({ length: 100 }, async (_, k) => {
      await writer.putResult(`image-${i + k}`, entry(i + k))
      if (acks) ack(i + k)
    }))
  }
}

if (mode === 'batched') {
  process.stdout.write('ready\n')
  await writeInWindows(replica, true)
}
if (mode !== 'apply') throw new Error(`unknown mode ${mode}`)
const writer = await Replica.open({ path: `${path!}-writer`, key: await generateKeyPair('Ed25519') })
process.stdout.write(`writer ${writer.author}\n`)
writer.onEnvelope(bytes => {
  // The writer's log starts at 0 and writes image-N at position N.
  const { first, seq } = decodeEnvelope(bytes)
  void replica.receive(bytes).then(outcome => {
    if (outcome.status !== 'applied') throw new Error(`an envelope was ${outcome.status}`)
    for (let i = first; i <= seq; i++) ack(i)
  })
})
await writeInWindows(writer, false)
