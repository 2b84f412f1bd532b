/**
 * V8 flags a texmesh node process runs with: in the `texmesh` command's first line (bin/texmesh.ts,
 * `#!/usr/bin/env -S node ...`), the `texmesh` npm script, and every node process simnet, the
 * benches and the tests start (a test checks that they agree).
 *
 * `--max-semi-space-size=32` (MiB): V8 otherwise lets the young generation grow to 64 MiB a
 * semi-space on this machine (its new space measured at 128 MiB). Applying a million results'
 * snapshot makes a million Yjs items, their keys and contents, nearly all of which live on, and
 * scavenges took about a quarter of that start; with semi-spaces capped at 32 MiB it is faster.
 * Measured on the replica of a million results (scratch runs, training paused, in turn,
 * 2026-12-07): 5.0-6.1 s uncapped, 4.5-4.8 s at 32 (4.7-4.8 s at 64, 5.4 s at 128); a whole
 * node's RSS at a million results the same (1,420-1,428 MiB either way).
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=32']
