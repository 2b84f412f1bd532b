/** Protocol id for the certificate exchange that runs once per connection. */
export const MEMBERSHIP_PROTOCOL = '/texmesh/membership/1.0.0'

/**
 * A certificate is about 300 bytes of JSON (peer id, network name, two times,
 * a 64-byte signature in base64url); 4 KiB leaves room for growth while keeping
 * a hostile peer from making us buffer much.
 */
export const MAX_MEMBERSHIP_MESSAGE_BYTES = 4096

/** The exchange is two small messages; 10 s covers a slow LAN with margin. */
export const MEMBERSHIP_TIMEOUT_MS = 10_000

/** One exchange per connection is expected; a few extra allow a re-announce after a new certificate. */
export const MEMBERSHIP_MAX_INBOUND_STREAMS = 4
export const MEMBERSHIP_MAX_OUTBOUND_STREAMS = 4

/** Clocks on lab machines drift; a certificate issued this far in the future is still accepted. */
export const CLOCK_SKEW_MS = 5 * 60_000

/** Domain separation: these bytes can never be mistaken for a vote or a CRDT update signed by the same key. */
export const CERTIFICATE_SIGNING_CONTEXT = 'texmesh/membership-certificate/v1\n'

export const CERTIFICATE_TEXT_PREFIX = 'texmesh-cert-v1:'

/** Domain separation for revocations (a member's certificate withdrawn by the admin). */
export const REVOCATION_SIGNING_CONTEXT = 'texmesh/membership-revocation/v1\n'

export const REVOCATION_TEXT_PREFIX = 'texmesh-revoke-v1:'
