import type { Multiaddr } from '@multiformats/multiaddr'

/** Where an address can be reached from: this machine only (loopback), this link only, or further. */
export function isLoopbackAddress (addr: Multiaddr): boolean {
  const ip = addr.getComponents()[0]
  if (ip == null) return false
  return (ip.name === 'ip4' && ip.value?.startsWith('127.') === true) ||
    (ip.name === 'ip6' && ip.value === '::1') ||
    (ip.name.startsWith('dns') && ip.value === 'localhost')
}

export function isLinkLocalAddress (addr: Multiaddr): boolean {
  const ip = addr.getComponents()[0]
  if (ip == null) return false
  return (ip.name === 'ip4' && ip.value?.startsWith('169.254.') === true) ||
    (ip.name === 'ip6' && ip.value?.toLowerCase().startsWith('fe80') === true)
}
