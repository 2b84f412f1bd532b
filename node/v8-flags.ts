/**
 * V8 flags a texmesh node process runs with: in the `texmesh` command's first line (bin/texmesh.ts,
 * `#!/usr/bin/env -S node ...`), the `texmesh` npm script, and every node process simnet, the
 * benches and the tests start (a test checks that they agree).
 *
 * `--max-semi-space-size=32` (MiB; V8's default on this machine is 16): applying a million
 * results' snapshot makes about two million Yjs items, and with the default young generation
 * a third of the start-up went in scavenges. Measured on the replica of a million results
 * (scratch runs, training paused, in turn, 2026-12-07): 5.0-6.1 s with the default, 4.5-4.8 s
 * with 32 (4.7-4.8 s with 64, 5.4 s with 128); a whole node's RSS at a million results the same
 * (1,420-1,428 MiB either way).
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=32']
