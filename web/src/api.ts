// The dashboard's only door to data: the public reports API, plus /ui/config.json for the key.
//
// Authorization follows the server's choice. By default /ui/config.json hands the dashboard the
// license key and every /api/ call carries it as `x-license-key` (network access is the gate,
// as with the vendor's dashboard). With `--dashboard-login` the config holds no key: the user
// types it once, POST /ui/login turns it into an HttpOnly cookie, and calls carry the cookie.

import type { AdoptionReport, DirectoryOverview, JiraReport, SessionPage, Trends, UiConfig, UsageReport } from './types';

/** The dashboard groups people by their Kubernetes user (the API's default is the machine id). */
export const USER_KEY = 'username';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

const KEY_STORAGE = 'mirrord-usage.licenseKey';

function url(path: string, params: Record<string, string> = {}): string {
  const u = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params)) if (v !== '') u.searchParams.set(k, v);
  return u.toString();
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return body.error ?? body.message ?? (text || response.statusText);
  } catch {
    return text.trim().slice(0, 300) || response.statusText || `HTTP ${response.status}`;
  }
}

export async function loadConfig(): Promise<UiConfig> {
  let response: Response;
  try {
    response = await fetch(url('ui/config.json'), { credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, `The server did not answer (${(e as Error).message}).`, 'ui/config.json');
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response), 'ui/config.json');
  return (await response.json()) as UiConfig;
}

export class Api {
  private key: string | null;

  constructor(readonly config: UiConfig) {
    this.key = config.licenseKey ?? readStoredKey();
  }

  private headers(): HeadersInit {
    return this.key ? { 'x-license-key': this.key } : {};
  }

  private async request(path: string, params: Record<string, string>): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url(path, params), { headers: this.headers(), credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, `The server did not answer (${(e as Error).message}).`, path);
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response), path);
    return response;
  }

  async json<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    return (await (await this.request(path, params)).json()) as T;
  }

  usage(params: Record<string, string>): Promise<UsageReport> {
    return this.json('api/v1/reports/usage', { primary_key: USER_KEY, ...params, format: 'json' });
  }

  trends(params: Record<string, string>): Promise<Trends> {
    // Dense series (every day, zeros included): the charts index the series by day.
    return this.json('api/v1/reports/usage/trends', { ...params, dense: 'true' });
  }

  sessions(params: Record<string, string>): Promise<SessionPage> {
    return this.json('api/v1/sessions', params);
  }

  jira(params: Record<string, string>): Promise<JiraReport> {
    return this.json('api/v1/reports/jira', params);
  }

  directory(): Promise<DirectoryOverview> {
    return this.json('api/v1/directory');
  }

  adoption(params: Record<string, string>): Promise<AdoptionReport> {
    return this.json('api/v1/reports/adoption', params);
  }

  /** Downloads a report (csv, xlsx, zip) with the same authorization as the JSON calls. */
  async download(path: string, params: Record<string, string>, fallbackName: string): Promise<void> {
    const response = await this.request(path, params);
    const blob = await response.blob();
    const disposition = response.headers.get('content-disposition') ?? '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  /**
   * Signs the browser in with the license key. Servers started with `--dashboard-login` answer
   * POST /ui/login with an HttpOnly cookie; a server without that route (404/405) gets the key
   * kept in this browser's storage and sent as a header instead.
   */
  async login(key: string): Promise<void> {
    const response = await fetch(url('ui/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ licenseKey: key }),
      credentials: 'same-origin',
    });
    if (response.status === 404 || response.status === 405) {
      this.key = key;
      storeKey(key);
      return;
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response), 'ui/login');
    this.key = null;
  }

  forgetStoredKey(): void {
    if (this.config.licenseKey) return;
    this.key = null;
    storeKey(null);
  }
}

function readStoredKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function storeKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled: the key lives for this page only */
  }
}
