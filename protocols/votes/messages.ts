/**
 * The quorum's wire format: the three messages on VOTES_TOPIC (JSON; gossipsub
 * signs them, so the sender is known), how they are read, and how this node
 * writes them.
 *
 *   {"kind": "ballot", "task", "image", "model", "file", "voters": [PEER...], "round"}
 *   {"kind": "vote", "vote": SignedVote}
 *   {"kind": "busy", "task", "image"}   (a voter whose queue is full: the origin asks another)
 */
import { z } from 'zod'
import { decodeJson, encodeJson } from '../json.js'
import { SHA256_HEX } from '../../util/sha256.js'
import { MAX_VOTE_MESSAGE_BYTES } from './constants.js'
import type { SignedVote } from './vote.js'

export const Ballot = z.object({
  kind: z.literal('ballot'),
  task: z.string().min(1).max(64),
  image: z.string().regex(SHA256_HEX),
  model: z.string().min(1).max(128),
  file: z.string().max(1024),
  voters: z.array(z.string().max(128)).min(1).max(64),
  round: z.number().int().min(1).max(64)
}).strict()
const VoteMessage = z.object({ kind: z.literal('vote'), vote: z.unknown() }).strict()

const BusyMessage = z.object({ kind: z.literal('busy'), task: z.string().min(1).max(64), image: z.string().regex(SHA256_HEX) }).strict()

export type BallotMessage = z.infer<typeof Ballot>

/** A message read off the topic: one of the three kinds (a vote still to be verified), or why it was refused. */
export type ReadMessage =
  | { kind: 'ballot', ballot: BallotMessage }
  | { kind: 'vote', vote: unknown }
  | { kind: 'busy', task: string, image: string }
  | { kind: 'refused', why: 'oversized' | 'unreadable' | 'malformed' }

/** Read a message's bytes: the size first, then the JSON, then its kind (a ballot, a vote, busy, in that order). */
export function readMessage (data: Uint8Array): ReadMessage {
  if (data.length > MAX_VOTE_MESSAGE_BYTES) return { kind: 'refused', why: 'oversized' }
  let json: unknown
  try {
    json = decodeJson(data)
  } catch {
    return { kind: 'refused', why: 'unreadable' }
  }
  const ballot = Ballot.safeParse(json)
  if (ballot.success) return { kind: 'ballot', ballot: ballot.data }
  const vote = VoteMessage.safeParse(json)
  if (vote.success) return { kind: 'vote', vote: vote.data.vote }
  const busy = BusyMessage.safeParse(json)
  if (busy.success) return { kind: 'busy', task: busy.data.task, image: busy.data.image }
  return { kind: 'refused', why: 'malformed' }
}

export function encodeVote (vote: SignedVote): Uint8Array {
  return encodeJson({ kind: 'vote', vote })
}

export function encodeBusy (task: string, image: string): Uint8Array {
  return encodeJson({ kind: 'busy', task, image })
}
