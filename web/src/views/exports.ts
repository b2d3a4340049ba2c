// Downloads: the per-user report as CSV and Excel (on the Users view), and "Export all data"
// in the app bar (every report of the range and scope as CSV files in one ZIP). Each carries the
// range and group on screen, and the same authorization as the JSON calls.

import { USER_KEY, type Api } from '../api';
import { h } from '../dom';
import { icon } from '../icons';
import type { ViewContext } from './context';

/** The name a download gets when the server sends none: the range and the group in it. */
function fileName(params: Record<string, string>, ext: string): string {
  const parts = ['mirrord-usage', params.from ?? 'all', params.to, params.group].filter(Boolean);
  return `${parts.join('-')}.${ext}`;
}

/** Runs a download, marking `button` busy meanwhile; a failure is told in an alert. */
async function download(button: HTMLElement, what: string, run: () => Promise<void>): Promise<void> {
  button.setAttribute('aria-busy', 'true');
  try {
    await run();
  } catch (e) {
    window.alert(`The ${what} failed: ${(e as Error).message}`);
  } finally {
    button.removeAttribute('aria-busy');
  }
}

export function exportButtons(ctx: ViewContext): HTMLElement {
  const button = (format: 'csv' | 'xlsx', label: string) => {
    const b = h('button', {
      type: 'button',
      class: 'button button-ghost',
      'data-export': format,
      title: `Download the per-user report as ${label}`,
      onclick: async () => {
        b.disabled = true;
        await download(b, `${label} export`, () =>
          ctx.api.download('api/v1/reports/usage', { primary_key: USER_KEY, ...ctx.usageParams, format }, fileName(ctx.usageParams, format)));
        b.disabled = false;
      },
    }, icon('download'), label);
    return b;
  };
  return h('div', { class: 'button-group', role: 'group', 'aria-label': 'Export' }, button('csv', 'CSV'), button('xlsx', 'Excel'));
}

/**
 * Whether an export of everything is running. Module state, not the button's: the app bar is
 * rebuilt on every render, and a second click must not start a second ZIP meanwhile.
 */
let exporting = false;

/** "Export all data": GET /api/v1/export.zip with `params` (range, group, primary key). */
export function exportAllButton(api: Api | null, params: Record<string, string>): HTMLElement {
  // aria-disabled, not disabled: a disabled button drops keyboard focus while the ZIP downloads.
  return h('button', {
    type: 'button',
    class: 'button button-ghost export-all',
    'data-action': 'export-all',
    'aria-disabled': String(exporting || !api),
    title: 'Download every report of this range and scope as CSV files in one ZIP',
    onclick: async (e: Event) => {
      if (exporting || !api) return;
      const button = e.currentTarget as HTMLElement;
      exporting = true;
      button.setAttribute('aria-disabled', 'true');
      await download(button, 'export', () => api.download('api/v1/export.zip', params, fileName(params, 'zip')));
      exporting = false;
      for (const b of document.querySelectorAll('[data-action="export-all"]')) b.setAttribute('aria-disabled', 'false');
    },
  }, icon('download'), h('span', { class: 'export-all-label' }, 'Export all data'));
}
