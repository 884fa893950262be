// Access to the public HTTP API (/api/v1), the only thing the UI talks to.

/** Route prefix the server was started with ('' for '/'). */
export const PREFIX = (document.querySelector('meta[name=prom-prefix]')?.content || '').replace(/\/$/, '');

/** An API failure: carries Prometheus' errorType when the server sent one. */
export class ApiError extends Error {
  constructor(message, errorType = '', status = 0) {
    super(message);
    this.errorType = errorType;
    this.status = status;
  }
}

/**
 * Calls GET /api/v1/<path> with `params` (object or URLSearchParams) and
 * returns the whole envelope ({data, warnings, infos}); throws ApiError.
 */
export async function apiCall(path, params = {}, { signal, method = 'GET' } = {}) {
  const qs = new URLSearchParams(params).toString();
  let url = `${PREFIX}/api/v1/${path}`;
  const init = { signal, method, headers: { Accept: 'application/json' } };
  if (method === 'POST') {
    init.body = qs;
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else if (qs) {
    url += `?${qs}`;
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server (${url}): ${e.message}`, 'network');
  }
  const text = await resp.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`HTTP ${resp.status} from ${url}: ${text.slice(0, 300) || resp.statusText}`, 'http', resp.status);
  }
  if (body.status !== 'success') {
    throw new ApiError(body.error || `HTTP ${resp.status}`, body.errorType || 'error', resp.status);
  }
  return body;
}

/** Like apiCall but returns only `data`. */
export async function api(path, params, opts) {
  return (await apiCall(path, params, opts)).data;
}
