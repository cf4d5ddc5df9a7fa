// The path of an HTTP request target, parsed without throwing. Imports nothing.
//
// A request line is attacker input: `GET //x:99999 HTTP/1.1` makes `new URL(target, base)` throw (an
// authority with an invalid port), and so do other odd targets. Every HTTP route asks this function
// instead, and answers 400 when it returns undefined.

/** The percent-encoded pathname of `url` (the request target), or undefined when it is not a valid target. */
export function requestPath(url: string | undefined): string | undefined {
  const target = url ?? '/';
  // Origin-form targets (RFC 9112 section 3.2.1) start with one `/`; anything else is not a path we serve.
  if (!target.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** decodeURIComponent that answers undefined for a bad percent-encoding instead of throwing URIError. */
export function decodePathSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
