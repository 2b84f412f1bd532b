/** The end of the attack: P, an honest member, checks it is still served (dial, ping, catch-up, blob, steal). */
import type { Libp2p } from 'libp2p'
import type { PeerId } from '@libp2p/interface'
import { CRDT_SYNC_PROTOCOL } from '../../protocols/crdt-sync/index.js'
import { BLOB_PROTOCOL } from '../../protocols/blob/index.js'
import { TASKS_PROTOCOL } from '../../protocols/tasks/index.js'
import type { Attacker } from './attacker.js'
import { lpJson } from './encoding.js'
import type { ProbeResult } from './messages.js'
import { sleep } from './pace.js'
import { judgeJson } from './profiles.js'
import { runProbe } from './stream-io.js'

export async function honestProbe (a: Attacker): Promise<ProbeResult> {
  const t0 = Date.now()
  const p = await a.peer(a.who.p.key, a.cert(a.init.identities.p.cert)) as Libp2p<{ ping: { ping: (p: PeerId, o?: object) => Promise<number> } }>
  const steps: string[] = []
  try {
    await p.start()
    // An honest peer dials again when a dial fails (the pending-slot probe has just ended).
    for (let attempt = 1; ; attempt++) {
      try {
        await p.dial(a.nodeAddr, { signal: AbortSignal.timeout(10_000) })
        break
      } catch (err) {
        if (attempt >= 5) throw err
        steps.push(`dial ${attempt} failed (${(err as Error).message})`)
        await sleep(1000 * attempt)
      }
    }
    steps.push(`ping ${await p.services.ping.ping(a.nodePeer, { signal: AbortSignal.timeout(10_000) })} ms`)
    // A catch-up: the node streams what P lacks, then an end mark.
    const sync = await runProbe(p, a.nodePeer, CRDT_SYNC_PROTOCOL, { cls: 'probe', steps: [lpJson('{}')], closeWrite: true, waitMs: 15_000 })
    if (sync.outcome !== 'answered') throw new Error(`catch-up: ${sync.outcome} ${sync.detail ?? ''}`)
    steps.push('catch-up answered')
    await sleep(1500) // the certificate exchange (private networks: blobs are for members)
    const blob = await runProbe(p, a.nodePeer, BLOB_PROTOCOL, { cls: 'probe', steps: [lpJson(JSON.stringify({ hash: '0'.repeat(64) }))], closeWrite: true, waitMs: 10_000, judge: judgeJson(r => r.status !== 'missing') })
    if (blob.outcome !== 'answered') throw new Error(`blob: ${blob.outcome} (expected "missing")`)
    steps.push('blob request answered')
    const steal = await runProbe(p, a.nodePeer, TASKS_PROTOCOL, { cls: 'probe', steps: [lpJson('{"kind":"steal","want":1}')], closeWrite: true, waitMs: 10_000, judge: judgeJson(r => !Array.isArray(r.leases)) })
    if (steal.outcome !== 'answered') throw new Error(`steal: ${steal.outcome}`)
    steps.push('steal answered')
    return { ok: true, detail: steps.join(', '), ms: Date.now() - t0 }
  } catch (err) {
    return { ok: false, detail: `${steps.join(', ')}${steps.length > 0 ? '; then ' : ''}${(err as Error).message}`, ms: Date.now() - t0 }
  } finally {
    await Promise.resolve(p.stop()).catch(() => {})
  }
}
