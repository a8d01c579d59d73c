/**
 * Splits a command line into words the way systemd splits ExecStart=: white space
 * separates words, "double" and 'single' quotes group them, a backslash escapes the
 * next character (outside single quotes). There is no shell: no variables, no globs,
 * no `$(…)`, no redirection — `'$(x)'` and `*` are passed on as the text they are.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === quote) quote = null
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += unescape(text[++i])
      else cur += c
      continue
    }
    if (c === '"' || c === "'") {
      quote = c
      inWord = true
    } else if (c === '\\' && i + 1 < text.length) {
      cur += unescape(text[++i])
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} quote in: ${text}`)
  if (inWord) words.push(cur)
  return words
}

function unescape(c: string): string {
  return ({n: '\n', t: '\t'} as Record<string, string>)[c] ?? c
}
