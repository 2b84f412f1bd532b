/**
 * Text from files, the network or other nodes, made safe to print on a terminal: control
 * characters (escape sequences, carriage returns, tabs and newlines that would forge columns or
 * lines) become visible escapes such as \x1b. For human output only: --json prints the text as it is.
 */
export function printable (text: string): string {
  // C0 controls, DEL and C1 controls; also the Unicode line and paragraph separators.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, c => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}
