import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { MAPS, type MapName } from '../../crdt/authorship.js'
import type { Change } from '../../crdt/replica.js'
import { OCR_STAGES } from '../../pipeline/timings.js'
import type { QuorumTimings } from '../../protocols/votes/index.js'
import type { PeerMembership } from '../../protocols/membership/index.js'
import type { TasksStats } from './task-view.js'
import type { Compute } from './compute.js'

/**
 * The node's metrics in Prometheus text format (`GET /metrics`), with
 * prom-client. Most are read from the parts' own counts when scraped; OCR
 * latency (whole and by stage) and store changes (with how late those from
 * other nodes arrived) are observed as they happen. Every metric is
 * listed, with what it means, in the README ("Metrics").
 */

/** What the metrics are read from, at each scrape. */
export interface MetricSources {
  version: string
  model: string
  tasks: () => TasksStats
  quorum: () => QuorumTimings
  equivocators: () => number
  /** the membership state of each connected peer */
  peers: () => Array<PeerMembership['state']>
  store: {
    size: (map: MapName) => number
    heldEnvelopes: () => { pending: number, notAdmitted: number, bytes: number }
    /** when the update held back longest was first held (ms since the epoch); undefined when none is */
    heldSince: () => number | undefined
    unstoredChanges: () => number
  }
}

const MEMBERSHIP_STATES: ReadonlyArray<PeerMembership['state']> = ['open', 'pending', 'none', 'member', 'refused']
/** OCR times span 10 ms (a short formula, one core) to tens of seconds (a large page under load). */
const OCR_BUCKETS_S = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30]
/** A stage takes from well under a millisecond (a queue with a free worker, a small image's decoding) to the whole time. */
const STAGE_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30]
/** Gossip brings an entry in milliseconds; catch-up after a partition or downtime, minutes to days later. */
const LAG_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400]

export class NodeMetrics {
  readonly registry = new Registry()
  private readonly ocrSeconds: Histogram
  private readonly ocrOutcomes: Counter<'outcome'>
  private readonly ocrStageSeconds: Histogram<'stage'>
  private readonly storeChanges: Counter<'map' | 'origin'>
  private readonly syncLagSeconds: Histogram

  constructor (sources: MetricSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: 'texmesh_' })
    const info = new Gauge({ name: 'texmesh_info', help: 'this node: its version and the model version its results carry (always 1)', labelNames: ['version', 'model'], registers })
    info.set({ version: sources.version, model: sources.model }, 1)

    // Tasks this node accepted (its queue), and the work its slots did.
    labelled(registers, 'texmesh_tasks', 'tasks this node accepted, by state (done and failed: since the queue was made)', 'state', () => {
      const t = sources.tasks()
      return [['queued', t.queued], ['leased', t.leased], ['done', t.done], ['failed', t.failedTasks]]
    })
    gauge(registers, 'texmesh_task_slots_running', 'worker slots recognising an image now', () => sources.tasks().running)
    gauge(registers, 'texmesh_task_slots', 'worker slots (the workers setting)', () => sources.tasks().capacity)
    gauge(registers, 'texmesh_task_origins_waiting', 'origins heard of with tasks waiting', () => sources.tasks().origins.length)
    mirrored(registers, 'texmesh_leases_granted_total', 'leases this node granted on its tasks (backups included)', () => sources.tasks().grants)
    mirrored(registers, 'texmesh_leases_regranted_total', 'leases on this node\'s tasks that ran out and were granted again', () => sources.tasks().regrants)
    mirrored(registers, 'texmesh_tasks_processed_total', 'tasks this node\'s slots finished (its own and stolen)', () => sources.tasks().processed)
    mirrored(registers, 'texmesh_tasks_stolen_total', 'tasks this node\'s slots took from other origins', () => sources.tasks().stolen)
    mirrored(registers, 'texmesh_task_failures_total', 'tasks this node\'s slots failed to recognise', () => sources.tasks().failed)

    // Critical images: the quorum, as origin and as voter.
    mirrored(registers, 'texmesh_certificates_total', 'quorum certificates formed for this node\'s critical tasks', () => sources.quorum().origin.certified)
    mirrored(registers, 'texmesh_no_consensus_total', 'critical tasks of this node that ended without agreement', () => sources.quorum().origin.noConsensus)
    mirrored(registers, 'texmesh_ballots_grown_total', 'ballots that grew by more voters (a voter suspected or dissenting)', () => sources.quorum().origin.grown)
    mirrored(registers, 'texmesh_voters_suspected_total', 'voters suspected of being silent on this node\'s ballots', () => sources.quorum().origin.suspected)
    gauge(registers, 'texmesh_ballots_open', 'this node\'s ballots under way', () => sources.quorum().origin.open)
    gauge(registers, 'texmesh_ballots_queued', 'this node\'s critical tasks waiting for a ballot', () => sources.quorum().origin.queued)
    mirrored(registers, 'texmesh_votes_total', 'votes this node signed as a voter', () => sources.quorum().voter.readings)
    mirrored(registers, 'texmesh_busy_replies_total', 'ballots this node answered busy (too many in flight)', () => sources.quorum().voter.busy)
    gauge(registers, 'texmesh_equivocators', 'voters proven to have signed two different votes on a task', sources.equivocators)

    // The replicated store.
    labelled(registers, 'texmesh_store_entries', 'entries in the replicated store, by map', 'map', () => MAPS.map(map => [map, sources.store.size(map)]))
    gauge(registers, 'texmesh_store_held_envelopes', 'store updates held back (waiting for an earlier one, or for their author to be known as a member)', () => {
      const h = sources.store.heldEnvelopes()
      return h.pending + h.notAdmitted
    })
    gauge(registers, 'texmesh_store_held_bytes', 'bytes of held-back store updates', () => sources.store.heldEnvelopes().bytes)
    gauge(registers, 'texmesh_store_unstored_changes', 'own changes LevelDB has not yet stored (non-zero: is the disk full?)', sources.store.unstoredChanges)
    gauge(registers, 'texmesh_store_held_oldest_seconds', 'how long the store update held back longest has waited (0: none held); it counts from when it was first held, tries again included', () => {
      const since = sources.store.heldSince()
      return since == null ? 0 : Math.max(0, Date.now() - since) / 1000
    })
    this.storeChanges = new Counter({ name: 'texmesh_store_changes_total', help: 'entries changed in the replicated store, by map, written here (local) or applied from another node (remote; its rate is the apply rate)', labelNames: ['map', 'origin'], registers })
    this.syncLagSeconds = new Histogram({ name: 'texmesh_store_sync_lag_seconds', help: 'entries from other nodes: time applied here minus the time their author wrote them (the entry\'s signed time field, on the author\'s clock; clock skew adds to it, and below 0 counts as 0)', buckets: LAG_BUCKETS_S, registers })

    // Peers.
    labelled(registers, 'texmesh_peers', 'connected peers, by membership state (open: a network without an admin key)', 'membership', () => {
      const counts = new Map<string, number>(MEMBERSHIP_STATES.map(s => [s, 0]))
      for (const s of sources.peers()) counts.set(s, (counts.get(s) ?? 0) + 1)
      return counts
    })

    this.ocrSeconds = new Histogram({ name: 'texmesh_ocr_seconds', help: 'time to recognise one image on this node, whole pipeline (tasks, votes, /v1/ocr and search by image), errors included', buckets: OCR_BUCKETS_S, registers })
    this.ocrStageSeconds = new Histogram({ name: 'texmesh_ocr_stage_seconds', help: 'time one image spent in each stage of the pipeline (pipeline/timings.ts), images read without error: queue (waiting for a free worker), preprocess, segment, canvas, encoder, decoder (beam search), answer', labelNames: ['stage'], buckets: STAGE_BUCKETS_S, registers })
    this.ocrOutcomes = new Counter({ name: 'texmesh_ocr_total', help: 'images recognised on this node, by outcome: read, unreadable (not a formula this model reads), error', labelNames: ['outcome'], registers })
  }

  /** A store change, as the replica announces it; one from another node, with how late it arrived. */
  noteStoreChange (change: Pick<Change, 'map' | 'local' | 'time'>, now = Date.now()): void {
    this.storeChanges.inc({ map: change.map, origin: change.local ? 'local' : 'remote' })
    if (!change.local && change.time != null) this.syncLagSeconds.observe(Math.max(0, now - change.time) / 1000)
  }

  /** `compute`, with every recognition timed, as a whole and by stage (the stages' times are taken off the result). */
  timed (compute: Compute): Compute {
    const { ocrSeconds, ocrOutcomes, ocrStageSeconds } = this
    return {
      model: compute.model,
      async recognize (image, file, options) {
        const end = ocrSeconds.startTimer()
        try {
          const { timings, ...r } = await compute.recognize(image, file, options)
          ocrOutcomes.inc({ outcome: r.unreadable != null ? 'unreadable' : 'read' })
          for (const stage of OCR_STAGES) {
            const ms = timings?.[stage]
            if (ms != null) ocrStageSeconds.observe({ stage }, ms / 1000)
          }
          return r
        } catch (err) {
          ocrOutcomes.inc({ outcome: 'error' })
          throw err
        } finally {
          end()
        }
      },
      ...(compute.score != null ? { score: compute.score.bind(compute) } : {}),
      release: async () => { await compute.release() }
    }
  }

  get contentType (): string { return this.registry.contentType }

  async text (): Promise<string> { return await this.registry.metrics() }
}

/** A gauge with one label, set from `read` (label value -> value) at each scrape. */
function labelled (registers: Registry[], name: string, help: string, label: string, read: () => Iterable<readonly [string, number]>): Gauge {
  return new Gauge({ name, help, labelNames: [label], registers, collect () { for (const [value, n] of read()) this.set({ [label]: value }, n) } })
}

function gauge (registers: Registry[], name: string, help: string, read: () => number): Gauge {
  return new Gauge({ name, help, registers, collect () { this.set(read()) } })
}

/** A counter that follows a count kept elsewhere (it only goes up, by what the count grew since the last scrape). */
function mirrored (registers: Registry[], name: string, help: string, read: () => number): Counter {
  let last = 0
  return new Counter({
    name,
    help,
    registers,
    collect () {
      const now = read()
      if (now > last) this.inc(now - last)
      last = Math.max(last, now)
    }
  })
}
