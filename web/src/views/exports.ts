// Export buttons for the per-user report: CSV and Excel, with the range on screen.

import { USER_KEY } from '../api';
import { h } from '../dom';
import { icon } from '../icons';
import type { ViewContext } from './context';

export function exportButtons(ctx: ViewContext): HTMLElement {
  const name = (ext: string) => `mirrord-usage-${ctx.usageParams.from ?? 'all'}${ctx.usageParams.to ? `-${ctx.usageParams.to}` : ''}.${ext}`;
  const button = (format: 'csv' | 'xlsx', label: string) => {
    const b = h('button', {
      type: 'button',
      class: 'button button-ghost',
      'data-export': format,
      title: `Download the per-user report as ${label}`,
      onclick: async () => {
        b.disabled = true;
        b.setAttribute('aria-busy', 'true');
        try {
          await ctx.api.download('api/v1/reports/usage', { primary_key: USER_KEY, ...ctx.usageParams, format }, name(format));
        } catch (e) {
          window.alert(`The ${label} export failed: ${(e as Error).message}`);
        } finally {
          b.disabled = false;
          b.removeAttribute('aria-busy');
        }
      },
    }, icon('download'), label);
    return b;
  };
  return h('div', { class: 'button-group', role: 'group', 'aria-label': 'Export' }, button('csv', 'CSV'), button('xlsx', 'Excel'));
}
