// The states that are not data: loading skeletons, errors, sign-in, and the first-run guide.
// None of them is a blank page.

import { h, type Child } from '../dom';
import { icon } from '../icons';
import { ApiError } from '../api';
import type { UiConfig } from '../types';

export function skeletonCards(): HTMLElement {
  return h('div', { class: 'cards', 'aria-hidden': 'true' },
    Array.from({ length: 5 }, () => h('div', { class: 'card skeleton-card' },
      h('span', { class: 'skeleton skeleton-line short' }),
      h('span', { class: 'skeleton skeleton-block' }),
      h('span', { class: 'skeleton skeleton-line' }))));
}

export function skeletonTable(): HTMLElement {
  return h('div', { class: 'panel', 'aria-hidden': 'true' },
    h('span', { class: 'skeleton skeleton-line medium' }),
    Array.from({ length: 6 }, () => h('span', { class: 'skeleton skeleton-row' })));
}

export function loadingView(): HTMLElement {
  return h('div', { class: 'loading-view', role: 'status', 'aria-live': 'polite', 'data-state': 'loading' },
    h('span', { class: 'visually-hidden' }, 'Loading usage data…'),
    skeletonCards(),
    skeletonTable());
}

function hint(error: Error): string {
  if (!(error instanceof ApiError)) return 'Reload the page; if it keeps failing, check the browser console.';
  if (error.status === 0) return 'Is mirrord-usage still running, and can this browser reach it?';
  if (error.unauthorized) return 'The license key was refused. Check the key the server was started with.';
  if (error.status === 404) return 'This server does not offer that report. Is the dashboard talking to an older mirrord-usage?';
  if (error.status >= 500) return 'The server failed while building the report. Its log says why.';
  return 'The server refused the request.';
}

export function errorPanel(error: Error, retry: () => void): HTMLElement {
  const where = error instanceof ApiError ? `${error.status ? `HTTP ${error.status}` : 'No response'} from ${error.path}` : error.name;
  return h('div', { class: 'state-panel state-error', role: 'alert', 'data-state': 'error' },
    h('div', { class: 'state-icon' }, icon('alert')),
    h('h2', null, 'Couldn’t load usage data'),
    h('p', { class: 'state-message' }, error.message),
    h('p', { class: 'muted' }, `${where}. ${hint(error)}`),
    h('button', { type: 'button', class: 'button button-primary', 'data-action': 'retry', onclick: retry }, icon('sync'), 'Try again'),
  );
}

export function loginPanel(onSubmit: (key: string) => Promise<void>, message?: string): HTMLElement {
  const input = h('input', { type: 'password', id: 'license-key', class: 'input', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const status = h('p', { class: 'form-error', role: 'alert' }, message ?? '');
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Open dashboard');
  const form = h('form', {
    class: 'login-form',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      submit.disabled = true;
      status.textContent = '';
      try {
        await onSubmit(input.value.trim());
      } catch (err) {
        status.textContent = (err as Error).message;
      } finally {
        submit.disabled = false;
      }
    },
  },
    h('label', { for: 'license-key' }, 'License key'),
    input,
    status,
    submit,
  );
  return h('div', { class: 'state-panel', 'data-state': 'login' },
    h('div', { class: 'state-icon' }, icon('key')),
    h('h2', null, 'Sign in to mirrord usage'),
    h('p', { class: 'muted' }, 'This server asks for the license key once. It is kept in an HttpOnly cookie, never in the page.'),
    form,
  );
}

export function snippet(title: string, body: Child, code: string): HTMLElement {
  return h('li', { class: 'step' },
    h('h3', null, title),
    h('p', null, body),
    h('pre', { class: 'code', tabindex: '0' }, h('code', null, code)));
}

/** The first-run guide: no session has ever arrived. */
export function onboarding(config: UiConfig): HTMLElement {
  const host = location.hostname || 'mirrord-usage';
  return h('div', { class: 'state-panel onboarding', 'data-state': 'empty' },
    h('div', { class: 'state-icon' }, icon('inbox')),
    h('h2', null, 'No mirrord sessions yet'),
    h('p', { class: 'muted' }, 'The dashboard fills in as soon as the mirrord Operator’s functional logs reach this server. Pick one way in:'),
    h('ol', { class: 'steps' },
      snippet('Send the operator’s logs over OpenTelemetry',
        'Turn on JSON logs and OTLP export in the operator’s Helm values, then upgrade the release.',
        `# values.yaml of mirrord-operator\noperator:\n  jsonLog: true\n  otelLogExportUrl: http://${host}:4318\n\nhelm upgrade mirrord-operator metalbear/mirrord-operator -f values.yaml`),
      snippet('Or import logs you already have',
        'Any operator log file works: JSON, container-runtime wrapped, or plain text.',
        'kubectl logs -n mirrord deploy/mirrord-operator --since=720h \\\n  | mirrord-usage ingest -'),
      snippet('Or just look around',
        'Start with 90 days of generated activity to see what the dashboard shows.',
        'mirrord-usage serve --demo'),
    ),
    h('p', null,
      'Forwarding through fluentd, Fluent Bit or an OpenTelemetry Collector? Ready-made configs are in ',
      h('a', { href: config.docsUrl, target: '_blank', rel: 'noopener' }, 'the docs'), '.'),
  );
}
