import { yamux } from '@chainsafe/libp2p-yamux'
import type { StreamMuxerFactory } from '@libp2p/interface'

/**
 * yamux (@chainsafe/libp2p-yamux), safe against a connection that closes under it.
 *
 * When a node opens a stream, yamux sends the stream's first frame from a queued microtask. If the
 * connection began to close in between (the peer hung up, or the connection was pruned), that send
 * throws StreamStateError ("Cannot write to a stream that is closing") inside the microtask, where
 * nothing catches it: an uncaught exception, which ends a node. Peers that connect and hang up
 * quickly make it happen now and then. Here the muxer drops a frame for a connection that takes no
 * more writes (it could not go out anyway; the streams end with the connection) instead of throwing.
 */
export function safeYamux (): () => StreamMuxerFactory {
  const make = yamux()
  return () => {
    const factory = make()
    const create = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = (maConn) => {
      const muxer = create(maConn)
      const send = muxer.send.bind(muxer)
      const stream = maConn as typeof maConn & { writeStatus?: string }
      muxer.send = (data) => stream.writeStatus === 'closing' || stream.writeStatus === 'closed' ? false : send(data)
      return muxer
    }
    return factory
  }
}
