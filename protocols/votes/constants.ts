/** The quorum's limits and timings (protocols/votes/index.ts explains the protocol). */
export const VOTES_TOPIC = 'texmesh/votes/1'
/** Domain separation: vote bytes can never be mistaken for a certificate or a CRDT update signed by the same key. */
export const VOTE_SIGNING_CONTEXT = 'texmesh/vote/v1\n'
/** f = 1 tolerates one faulty voter among four; larger networks may choose more. */
export const DEFAULT_F = 1
export const MAX_F = 10
/** A ballot may grow to this many voters beyond 3f+1 (suspected, busy or dissenting voters replaced). */
export const EXTRA_VOTERS = 3
/** Ballots a voter reads at once unless told its number of workers. */
export const DEFAULT_CONCURRENCY = 1
/** A ballot or a vote is well under 8 KiB (a vote carries at most 4 KiB of LaTeX). */
export const MAX_VOTE_MESSAGE_BYTES = 8 * 1024
/**
 * How long a suspected voter that was asked again may stay silent (no vote on any task) before it
 * is given up on. Only the end of a ballot without consensus waits for it; a ballot that can still
 * grow does so as soon as a voter is suspected.
 */
export const DEFAULT_SILENCE_MS = 30_000
/** Ballots an origin keeps in flight to one voter (not yet voted on): its backpressure. At most MAX_PENDING_BALLOTS_PER_ORIGIN. */
export const VOTER_WINDOW = 8
/** No voter is suspected sooner than this after its last vote (on any task) or the ballot, whichever is later. */
export const MIN_SUSPECT_MS = 2_000
/** A voter is suspected after this many of its typical times from ballot to vote without progress. */
export const SUSPECT_FACTOR = 4
/** How often open ballots are looked at for silent voters. */
export const SWEEP_MS = 250
/** Voters whose progress is followed (members; an open network bounds it here). */
export const MAX_TRACKED_VOTERS = 4096
/** A voter whose votes disagreed with a certified answer is chosen last; that memory halves every this many ms. */
export const DISSENT_HALF_LIFE_MS = 60_000
/** A voter that goes SKIP_VOTES past a ballot it was asked again is asked this many more times before it is given up on. */
export const MAX_REASKS = 3
/** A busy voter is sent the ballot again once it has signed this many new votes (its queue has room again). */
export const BUSY_RETRY_VOTES = 4
/** A voter whose queue is full says so at most this often a second (a hostile origin cannot make it talk without end). */
export const BUSY_PER_SECOND = 20
/** Votes of this many recent tasks are kept to catch equivocation. */
export const RECENT_TASKS = 2048
/**
 * The bytes those votes may take, all tasks together (a vote with 4 KiB of LaTeX is about 9 KiB
 * in memory): the oldest tasks go first, so a flood of valid votes cannot grow the heap.
 */
export const MAX_RECENT_VOTE_BYTES = 8 * 1024 * 1024
/** Votes on a task this node neither originates nor votes on are kept this long: a few rounds, to catch equivocation. */
export const FOREIGN_VOTES_MS = 5 * 60_000
/** This node's own votes on this many recent ballots are kept, to be published again when a ballot is repeated. */
export const REMEMBERED_VOTES = 4096
/** Per task, the voter-image-model combinations whose votes are kept to catch equivocation (a voter can sign votes on any image) */
export const MAX_BALLOTS_PER_TASK = 1024
/** Ballots waiting for this node's vote, in all and from one origin: a member sending ballots in bulk cannot make it work without end. */
export const MAX_PENDING_BALLOTS = 64
export const MAX_PENDING_BALLOTS_PER_ORIGIN = 16
/** A voter that has signed this many votes since one of our ballots reached it, but not on it, has skipped it (it reads ballots in order, at most MAX_PENDING_BALLOTS waiting). */
export const SKIP_VOTES = MAX_PENDING_BALLOTS + VOTER_WINDOW
/** A repeated ballot gets this node's vote again at most this often. */
export const REPUBLISH_MS = 2_000
/** How often a task waiting for enough online members looks again. */
export const WAIT_POLL_MS = 2_000

/** Ballots a voter fetches ahead of its reading slots, so a slot never waits for a fetch. */
export const FETCH_AHEAD = 2
