// The API client: tokens in sessionStorage, the org header, one refresh on 401,
// RFC 9457 problem documents turned into ApiError (title, detail, hint).

const KEYS = { access: "wf.access", refresh: "wf.refresh", org: "wf.org" };

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body?.detail || body?.title || `the server answered ${status}`;
    super(detail);
    this.status = status;
    this.title = body?.title || "Request failed";
    this.detail = detail;
    this.hint = body?.hint || null;
    this.code = body?.code || null;
  }

  static async of(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = { title: response.statusText || "Request failed" };
    }
    return new ApiError(response.status, body);
  }
}

export const NETWORK_ERROR = {
  title: "Network error",
  detail: "WindFlow could not be reached.",
  hint: "check that the server is running and your connection works, then try again",
};

export const session = {
  get access() { return sessionStorage.getItem(KEYS.access); },
  get refresh() { return sessionStorage.getItem(KEYS.refresh); },
  get org() { return sessionStorage.getItem(KEYS.org); },
  set org(value) {
    if (value) sessionStorage.setItem(KEYS.org, value);
    else sessionStorage.removeItem(KEYS.org);
  },
  save(pair) {
    sessionStorage.setItem(KEYS.access, pair.access_token);
    sessionStorage.setItem(KEYS.refresh, pair.refresh_token);
  },
  clear() {
    for (const key of Object.values(KEYS)) sessionStorage.removeItem(key);
  },
};

let refreshing = null;
let onSessionEnded = () => {};

/** Called once when the session cannot be renewed (the app shows the login page). */
export function whenSessionEnds(callback) {
  onSessionEnded = callback;
}

function refreshTokens() {
  // One refresh at a time: refresh tokens are single-use, a second use would fail.
  refreshing ??= (async () => {
    const token = session.refresh;
    if (!token) return false;
    try {
      const response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (!response.ok) return false;
      session.save(await response.json());
      return true;
    } catch {
      return false;
    }
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function headersFor(extra) {
  const headers = { Accept: "application/json", ...extra };
  if (session.access) headers.Authorization = `Bearer ${session.access}`;
  if (session.org) headers["X-WindFlow-Org"] = session.org;
  return headers;
}

/** fetch() with the session's headers; on 401 refresh once and retry, else end the session. */
export async function raw(method, path, { body, headers, signal } = {}) {
  const init = { method, signal, headers: headersFor(headers) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const sentWith = session.access;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, NETWORK_ERROR);
  }
  if (response.status !== 401 || !sentWith) return response;
  const renewed = session.access !== sentWith || (await refreshTokens());
  if (!renewed) {
    session.clear();
    onSessionEnded();
    return response;
  }
  init.headers = { ...init.headers, ...headersFor(headers) };
  try {
    return await fetch(path, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, NETWORK_ERROR);
  }
}

/** JSON in, JSON out; throws ApiError with the problem's detail and hint. */
export async function request(method, path, options = {}) {
  const response = await raw(method, path, options);
  if (!response.ok) throw await ApiError.of(response);
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body = {}, options = {}) => request("POST", path, { ...options, body });

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value == null || value === "" || value === false) continue;
    for (const item of [value].flat()) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function login(email, password) {
  let response;
  try {
    response = await fetch("/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email, password }),
    });
  } catch {
    throw new ApiError(0, NETWORK_ERROR);
  }
  if (!response.ok) throw await ApiError.of(response);
  session.save(await response.json());
}

export async function logout() {
  const token = session.refresh;
  session.clear();
  if (token) {
    try {
      await fetch("/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
    } catch {
      // The tokens are gone from this tab either way.
    }
  }
}
