import { networkInterfaces } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import { isLoopbackAddress } from '../../protocols/address-scope.js'

/**
 * Addresses other machines can dial, made from listen addresses: a wildcard
 * (0.0.0.0 or ::) becomes one address per interface, port 0 is skipped (it is
 * only known once the node runs). Loopback addresses are kept only when
 * nothing else is left, so an invite made on a laptop still works on it.
 */
export function dialableAddresses (listen: string[], peerId: string): string[] {
  const ifaces = Object.values(networkInterfaces()).flat().filter(i => i != null)
  const out: string[] = []
  for (const addr of listen) {
    const parts = multiaddr(addr).getComponents()
    const [ip, transport] = parts
    if (ip == null || transport == null || transport.value === '0') continue
    const rest = addr.slice(addr.indexOf(`/${transport.name}/`))
    if ((ip.name === 'ip4' && ip.value === '0.0.0.0') || (ip.name === 'ip6' && ip.value === '::')) {
      const family = ip.name === 'ip4' ? 'IPv4' : 'IPv6'
      for (const i of ifaces) {
        if (i.family !== family || (family === 'IPv6' && i.scopeid !== 0)) continue
        out.push(`/${ip.name}/${i.address}${rest}/p2p/${peerId}`)
      }
    } else {
      out.push(`${addr}/p2p/${peerId}`)
    }
  }
  return preferNonLoopback(out)
}

export function preferNonLoopback (addrs: string[]): string[] {
  const unique = [...new Set(addrs)]
  const external = unique.filter(a => !isLoopbackAddress(multiaddr(a)))
  return external.length > 0 ? external : unique
}
