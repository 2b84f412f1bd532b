import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { collect } from './helpers.js'
import { spawn } from 'node:child_process'

// mDNS multicasts on the LAN. To keep test traffic off any real network, the
// nodes run in a network namespace of their own that has only loopback, with
// multicast routed to it.
const NAMESPACE_SETUP = 'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo'
const canUnshare = spawnSync('unshare', ['-n', 'sh', '-c', NAMESPACE_SETUP], { stdio: 'ignore' }).status === 0

it('three nodes of one network find each other by mDNS alone, again after they all restart; a node of another network does not get in', {
  timeout: 90_000,
  skip: canUnshare ? false : 'this machine does not allow a private network namespace (unshare -n) for multicast'
}, async () => {
  const script = fileURLToPath(new URL('./fixtures/mdns-mesh.js', import.meta.url))
  const child = spawn('unshare', ['-n', 'sh', '-c', `${NAMESPACE_SETUP} && exec "${process.execPath}" "${script}"`], { stdio: ['ignore', 'pipe', 'pipe'] })
  const timer = setTimeout(() => child.kill('SIGKILL'), 80_000)
  const { code, stdout, stderr } = await collect(child)
  clearTimeout(timer)
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout.trim().split('\n').pop()!)
  assert.deepEqual(result, { meshed: true, peers: [2, 2, 2], strangerPeers: 0, remeshed: true, peersAfterRestart: [2, 2, 2] })
})
