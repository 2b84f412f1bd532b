import { randomBytes } from 'node:crypto'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { signVote, type SignedVote, type Vote } from '../protocols/votes/vote.js'

/**
 * simnet's Byzantine voters (`texmesh node --byzantine ATTACK`, only ever
 * started by simnet). Each attack turns the node's honest vote into what it
 * publishes instead:
 *
 * - wrong: a validly signed vote for a wrong answer (every wrong voter gives
 *   the same one: colluding is the worst case);
 * - forge: votes for a wrong answer in the names of the other voters, signed
 *   with its own key (so their signatures do not verify), and its own wrong vote;
 * - equivocate: the honest vote and a second, different one;
 * - silent: nothing;
 * - replay: its votes from earlier tasks again, and an old vote re-addressed
 *   to this task (which breaks its signature), but no fresh vote;
 * - flood: a burst of junk on the vote topic (oversized, malformed, badly
 *   signed), then its honest vote.
 */
export type Attack = 'wrong' | 'forge' | 'equivocate' | 'silent' | 'replay' | 'flood'
export const ATTACKS: readonly Attack[] = ['wrong', 'forge', 'equivocate', 'silent', 'replay', 'flood']

/** How many junk messages a flooder sends per ballot: enough to be felt, bounded so a run stays small. */
export const FLOOD_MESSAGES = 200

export function wrongAnswer (latex: string): string {
  return `${latex}+1`
}

const strip = ({ sig: _sig, ...vote }: SignedVote): Vote => vote

export function byzantineVoter (attack: Attack, key: Ed25519PrivateKey): (honest: SignedVote, ctx: { voters: string[], publish: (bytes: Uint8Array) => Promise<void> }) => Promise<SignedVote[]> {
  const earlier: SignedVote[] = []
  return async (honest, ctx) => {
    const wrong = async (): Promise<SignedVote> => await signVote(key, { ...strip(honest), latex: wrongAnswer(honest.latex) })
    switch (attack) {
      case 'wrong':
        return [await wrong()]
      case 'forge': {
        const mine = await wrong()
        const forged = ctx.voters.filter(v => v !== honest.voter).map(voter => ({ ...mine, voter }))
        return [...forged, mine]
      }
      case 'equivocate':
        return [honest, await signVote(key, { ...strip(honest), latex: wrongAnswer(honest.latex), time: honest.time + 1 })]
      case 'silent':
        return []
      case 'replay': {
        const out = earlier.slice(-3)
        const old = earlier[earlier.length - 1]
        if (old != null) out.push({ ...old, task: honest.task, image: honest.image })
        earlier.push(honest)
        return out
      }
      case 'flood': {
        const junk = (i: number): Uint8Array => {
          if (i % 4 === 0) return randomBytes(9 * 1024)
          if (i % 4 === 1) return new TextEncoder().encode('{"kind": "vote", "vote": ' + '['.repeat(50))
          if (i % 4 === 2) return new TextEncoder().encode(JSON.stringify({ kind: 'vote', vote: { ...honest, latex: `junk ${i}` } }))
          return new TextEncoder().encode(JSON.stringify({ kind: 'ballot', task: honest.task, image: honest.image, model: honest.model, file: 'x', voters: ctx.voters, round: 1 + (i % 60) }))
        }
        for (let i = 0; i < FLOOD_MESSAGES; i++) await ctx.publish(junk(i))
        return [honest]
      }
    }
  }
}
