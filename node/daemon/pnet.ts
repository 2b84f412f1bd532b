import { preSharedKey } from '@libp2p/pnet'
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'

/**
 * libp2p's private-network protector (@libp2p/pnet), with its stream cipher kept in bounds.
 *
 * pnet encrypts with the `xsalsa20` package, whose ciphers all share one WebAssembly memory per
 * process (10 pages at first, at most 1000: 62.5 MiB). Two faults there crash a node with an
 * uncaught RangeError ("WebAssembly.Memory.grow(): Maximum memory size exceeded") thrown in a
 * socket handler:
 * - One update larger than that memory (about 640 KiB: what a node writes in one go once its
 *   socket was busy, such as echoing a large ping, or catch-up pages on several streams) grows it.
 *   Every other cipher keeps a view of the memory as it was, which growing detaches (its length
 *   becomes 0), so each of them grows the memory again by the size of its next update: a few
 *   rounds of traffic on two or more connections reach the maximum, and then every update throws.
 * - pnet never finalizes its ciphers, so every connection ever made keeps two 64-byte slots of that
 *   memory: after a few thousand connections the slots reach past it and updates must grow it.
 *
 * Here every update is cut into windows of CIPHER_WINDOW bytes (the keystream, so the wire format,
 * is libp2p's), and both ciphers are finalized when the connection closes. (libp2p/js-libp2p#3585
 * fixes this upstream; @libp2p/pnet 3.0.27, the latest release here, predates it.)
 */
export const CIPHER_WINDOW = 64 * 1024

interface Xor {
  update: (input: Uint8Array, output?: Uint8Array) => Uint8Array
  finalize: () => void
}

/** A cipher whose updates never exceed CIPHER_WINDOW bytes, released once (later updates only zero-fill: the connection is gone). */
function windowed (xor: Xor): Xor {
  let released = false
  return {
    update (input, output = new Uint8Array(input.length)) {
      if (released) return output
      for (let at = 0; at < input.length; at += CIPHER_WINDOW) {
        xor.update(input.subarray(at, at + CIPHER_WINDOW), output.subarray(at, at + CIPHER_WINDOW))
      }
      return output
    },
    finalize () {
      if (released) return
      released = true
      xor.finalize()
    }
  }
}

/** `preSharedKey` of @libp2p/pnet, with bounded ciphers (see above). */
export function boundedPreSharedKey (init: { psk: Uint8Array }): () => ConnectionProtector {
  const make = preSharedKey(init)
  return () => {
    const inner = make()
    return {
      async protect (connection, options) {
        const boxed = await inner.protect(connection, options) as MessageStream & { inboundXor?: Xor, outboundXor?: Xor }
        if (boxed.inboundXor == null || boxed.outboundXor == null) {
          boxed.abort(new Error('@libp2p/pnet changed: its ciphers are not where node/daemon/pnet.ts bounds them'))
          throw new Error('@libp2p/pnet changed: its ciphers are not where node/daemon/pnet.ts bounds them')
        }
        const inbound = windowed(boxed.inboundXor)
        const outbound = windowed(boxed.outboundXor)
        boxed.inboundXor = inbound
        boxed.outboundXor = outbound
        boxed.addEventListener('close', () => {
          inbound.finalize()
          outbound.finalize()
        })
        return boxed
      }
    }
  }
}
