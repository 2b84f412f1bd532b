/**
 * A child process for the kill -9 test: opens a replica and writes results
 * without end, printing "acked N" once write N has resolved.
 */
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { Replica } from '../../crdt/replica.js'

const [path, keyHex] = process.argv.slice(2)
const key = privateKeyFromProtobuf(Buffer.from(keyHex!, 'hex')) as Ed25519PrivateKey
const replica = await Replica.open({ path: path!, key })
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  await replica.putResult(`image-${i}`, { latex: `x^{${i}}`, confidence: 0.5, alternatives: [], model: 'm', time: i })
  process.stdout.write(`acked ${i}\n`)
}
