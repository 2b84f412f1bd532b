/**
 * V8 flags a texmesh node process runs with: in the `texmesh` command's first line (bin/texmesh.ts,
 * `#!/usr/bin/env -S node ...`), the `texmesh` npm script, and every node process simnet, the
 * benches and the tests start (a test checks that they agree).
 *
 * `--max-semi-space-size=32` (MiB): applying a million results' snapshot makes a million Yjs
 * items, their keys and contents, nearly all of which live on, and a quarter of that start went
 * in garbage collection. Measured on the replica of a million results (scratch runs, training
 * paused, in turn, 2026-12-07): 5.0-6.1 s with V8's own sizing of the young generation (its new
 * space reached 128 MiB in a test of short-lived objects here), 4.5-4.8 s with this flag at 32
 * (4.7-4.8 s at 64, 5.4 s at 128; two runs each); a whole node's RSS at a million results the
 * same (1,420-1,428 MiB, two starts with the flag and two without).
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=32']
