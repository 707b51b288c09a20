// The agent's JSON API over fetch: one error class per way a request fails.

export const SESSION_KEY = "pgwarden.session";
const REQUEST_TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Unreachable extends Error {}

export const currentSession = () => sessionStorage.getItem(SESSION_KEY);

export async function api(path, { method = "GET", body, session = currentSession() } = {}) {
  const headers = {};
  if (session) headers["X-Session"] = session;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: abort.signal,
      cache: "no-store",
    });
  } catch (error) {
    throw new Unreachable(abort.signal.aborted ? "no answer in time" : error.message);
  } finally {
    clearTimeout(timer);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const message = payload && payload.error ? payload.error : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return payload;
}
