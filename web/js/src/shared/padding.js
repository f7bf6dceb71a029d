// Padding of files inside their encryption, the same on the source page
// (pista.js) and in the inbox (newsroom/replyfiles.js) as on the server.

// padme is the length a file of n bytes is padded to inside its
// encryption, as the server pads (intake.Padme): only the top
// floor(log2(log2 n))+1 bits of the length may be set.
export function padme(n) {
  if (n < 2) return n
  const e = n.toString(2).length - 1
  const s = e.toString(2).length
  const unit = 2 ** (e - s)
  return Math.ceil(n / unit) * unit
}

// padded streams a file followed by the zeros that padme asks for.
export function padded(file) {
  const reader = file.stream().getReader()
  let zeros = padme(file.size) - file.size
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (!done) {
        controller.enqueue(value)
      } else if (zeros > 0) {
        const n = Math.min(zeros, 65536)
        controller.enqueue(new Uint8Array(n))
        zeros -= n
      } else {
        controller.close()
      }
    },
  })
}
