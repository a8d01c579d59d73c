/**
 * OLLAMA_HOST the way Ollama's envconfig.Host() reads it: no scheme → http; a bare host
 * gets port 11434, but a URL with a scheme and no port gets 80/443; a bad port falls back
 * to 11434; a path is kept. For probing, a bind-all host (0.0.0.0, ::) means loopback.
 */
export function ollamaBaseUrl(raw: string | undefined): string {
  const value = (raw ?? '').trim().replace(/^["']|["']$/g, '')
  if (value === '') return 'http://127.0.0.1:11434'
  if (value === 'ollama.com') return 'https://ollama.com:443'
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value)
  const scheme = m ? m[1].toLowerCase() : 'http'
  const rest = m ? m[2] : value
  const slash = rest.indexOf('/')
  const hostport = slash >= 0 ? rest.slice(0, slash) : rest
  const path = slash >= 0 ? rest.slice(slash).replace(/\/+$/, '') : ''
  let host = hostport
  let port = ''
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport)
  if (v6) {
    host = v6[1]
    port = v6[2] ?? ''
  } else if (hostport.includes(':') && hostport.indexOf(':') === hostport.lastIndexOf(':')) {
    ;[host, port] = hostport.split(':')
  }
  const defaultPort = m ? (scheme === 'https' ? '443' : '80') : '11434'
  if (port === '' || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) port = port === '' ? defaultPort : '11434'
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1'
  if (host === '::') host = '::1'
  const h = host.includes(':') ? `[${host}]` : host
  return `${scheme}://${h}:${port}${path}`
}

/** Medic can see (and may signal) the server's processes only when the URL names this host. */
function loopbackHost(h: string): boolean {
  return h === 'localhost' || h === '[::1]' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}

/** An Ollama address, parsed once: its base URL (ollamaBaseUrl), host:port, port, and whether it is this host. */
export interface OllamaEndpoint {
  url: string
  /** host:port as in the URL (`127.0.0.1:11434`, `[::1]:11434`): names its state files and lock. */
  host: string
  port: number
  loopback: boolean
}

export function ollamaEndpoint(raw: string | undefined): OllamaEndpoint {
  const url = ollamaBaseUrl(raw)
  const u = new URL(url)
  return {url, host: u.host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)), loopback: loopbackHost(u.hostname)}
}
