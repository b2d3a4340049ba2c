// The data table every view uses: search, sort on every column, pagination. It sorts and
// filters an index array over the rows and renders one page, so 100,000 rows stay responsive.
// Search, sort and page size survive re-renders (a range change, a Sync, a tab switch).

import { h, replaceChildren, type Child } from './dom';
import { icon } from './icons';
import { formatInt } from './format';

export type SortDirection = 'asc' | 'desc';

export interface Column<T> {
  id: string;
  label: string;
  /** The value sorted on: numbers sort numerically, strings case-insensitively. */
  sort: (row: T) => string | number;
  render: (row: T) => Child;
  numeric?: boolean;
  className?: string;
}

export interface TableSpec<T> {
  id: string;
  title: string;
  rows: T[];
  columns: Column<T>[];
  search: (row: T) => string;
  searchLabel: string;
  defaultSort: { column: string; direction: SortDirection };
  /** Shown when there are no rows at all (not when a search matches nothing). */
  empty: () => Child;
  actions?: Child;
  description?: Child;
}

interface TableState {
  query: string;
  column: string;
  direction: SortDirection;
  page: number;
  pageSize: number;
}

const PAGE_SIZES = [10, 25, 50, 100];
const states = new Map<string, TableState>();

export function dataTable<T>(spec: TableSpec<T>): HTMLElement {
  const state: TableState = states.get(spec.id) ?? {
    query: '',
    column: spec.defaultSort.column,
    direction: spec.defaultSort.direction,
    page: 0,
    pageSize: PAGE_SIZES[0]!,
  };
  states.set(spec.id, state);
  if (!spec.columns.some((c) => c.id === state.column)) {
    state.column = spec.defaultSort.column;
    state.direction = spec.defaultSort.direction;
  }

  const rows = spec.rows;
  let haystack: string[] | null = null;
  const sortKeys = new Map<string, Array<string | number>>();
  let visible: number[] = [];

  const keysFor = (column: Column<T>): Array<string | number> => {
    let keys = sortKeys.get(column.id);
    if (!keys) {
      keys = rows.map((row) => {
        const v = column.sort(row);
        return typeof v === 'string' ? v.toLowerCase() : v;
      });
      sortKeys.set(column.id, keys);
    }
    return keys;
  };

  const compute = () => {
    const query = state.query.trim().toLowerCase();
    let indices: number[];
    if (query) {
      haystack ??= rows.map((row) => spec.search(row).toLowerCase());
      indices = [];
      for (let i = 0; i < rows.length; i++) if (haystack[i]!.includes(query)) indices.push(i);
    } else {
      indices = Array.from(rows.keys());
    }
    const column = spec.columns.find((c) => c.id === state.column);
    if (column) {
      const keys = keysFor(column);
      const sign = state.direction === 'asc' ? 1 : -1;
      indices.sort((a, b) => {
        const x = keys[a]!;
        const y = keys[b]!;
        if (x < y) return -sign;
        if (x > y) return sign;
        return a - b;
      });
    }
    visible = indices;
  };

  const titleCount = h('span', { class: 'count', 'data-role': 'count' });
  const heading = h('h2', { class: 'panel-title', id: `${spec.id}-title` }, spec.title, ' ', titleCount);
  const searchInput = h('input', {
    type: 'search',
    class: 'search-input',
    placeholder: spec.searchLabel,
    'aria-label': spec.searchLabel,
    value: state.query,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'data-table', 'aria-labelledby': `${spec.id}-title` }, thead, tbody);
  const scroller = h('div', { class: 'table-scroll', tabindex: '0', role: 'group', 'aria-label': `${spec.title} table` }, table);
  const pager = h('div', { class: 'pager' });
  const live = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });

  const renderHead = () => {
    const cells = spec.columns.map((column) => {
      const active = column.id === state.column;
      const ariaSort = active ? (state.direction === 'asc' ? 'ascending' : 'descending') : 'none';
      const button = h(
        'button',
        {
          type: 'button',
          class: 'sort-button',
          onclick: () => {
            if (state.column === column.id) state.direction = state.direction === 'asc' ? 'desc' : 'asc';
            else {
              state.column = column.id;
              state.direction = column.numeric ? 'desc' : 'asc';
            }
            state.page = 0;
            update(true);
            (thead.querySelector(`[data-column="${column.id}"] button`) as HTMLButtonElement | null)?.focus();
          },
        },
        column.label,
        icon(active ? (state.direction === 'asc' ? 'sortAsc' : 'sortDesc') : 'sortNone', 'icon sort-icon'),
      );
      return h('th', { scope: 'col', 'aria-sort': ariaSort, 'data-column': column.id, class: column.numeric ? 'num' : undefined }, button);
    });
    replaceChildren(thead, h('tr', null, cells));
  };

  const renderBody = () => {
    const pages = Math.max(1, Math.ceil(visible.length / state.pageSize));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * state.pageSize;
    const slice = visible.slice(start, start + state.pageSize);
    titleCount.textContent =
      visible.length === rows.length ? `(${formatInt(rows.length)})` : `(${formatInt(visible.length)} of ${formatInt(rows.length)})`;
    if (rows.length === 0) {
      replaceChildren(tbody, h('tr', null, h('td', { colspan: String(spec.columns.length), class: 'empty-cell' }, spec.empty())));
    } else if (slice.length === 0) {
      replaceChildren(
        tbody,
        h(
          'tr',
          null,
          h(
            'td',
            { colspan: String(spec.columns.length), class: 'empty-cell' },
            h('div', { class: 'empty-inline' },
              icon('search', 'icon empty-icon'),
              h('p', null, 'Nothing matches ', h('strong', null, `“${state.query}”`), '.'),
              h('button', { type: 'button', class: 'button button-ghost', onclick: () => setQuery('') }, 'Clear search'),
            ),
          ),
        ),
      );
    } else {
      replaceChildren(
        tbody,
        slice.map((i) =>
          h('tr', null, spec.columns.map((column) => h('td', { class: [column.numeric ? 'num' : '', column.className ?? ''].join(' ').trim() || undefined }, column.render(rows[i]!)))),
        ),
      );
    }
    renderPager(pages, start, slice.length);
  };

  const pageButton = (label: string, iconName: 'chevronsLeft' | 'chevronLeft' | 'chevronRight' | 'chevronsRight', target: number, disabled: boolean) =>
    h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': label, title: label, disabled, onclick: () => goTo(target) },
      icon(iconName),
    );

  const renderPager = (pages: number, start: number, count: number) => {
    const sizeSelect = h(
      'select',
      {
        class: 'select',
        'aria-label': 'Rows per page',
        onchange: (e: Event) => {
          state.pageSize = Number((e.target as HTMLSelectElement).value);
          state.page = 0;
          renderBody();
        },
      },
      PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.pageSize }, String(n))),
    );
    const last = pages - 1;
    replaceChildren(
      pager,
      h('label', { class: 'pager-size' }, 'Rows', sizeSelect),
      h('span', { class: 'pager-range', 'data-role': 'range' }, visible.length === 0 ? '0 rows' : `${formatInt(start + 1)}–${formatInt(start + count)} of ${formatInt(visible.length)}`),
      h('div', { class: 'pager-buttons' },
        pageButton('First page', 'chevronsLeft', 0, state.page === 0),
        pageButton('Previous page', 'chevronLeft', state.page - 1, state.page === 0),
        h('span', { class: 'pager-page', 'data-role': 'page' }, `Page ${formatInt(state.page + 1)} of ${formatInt(pages)}`),
        pageButton('Next page', 'chevronRight', state.page + 1, state.page >= last),
        pageButton('Last page', 'chevronsRight', last, state.page >= last),
      ),
    );
  };

  const goTo = (page: number) => {
    state.page = page;
    const focusedLabel = (document.activeElement as HTMLElement | null)?.getAttribute('aria-label');
    renderBody();
    // Keep keyboard focus on the pager button the user pressed, or the nearest enabled one.
    const again = focusedLabel ? (pager.querySelector(`[aria-label="${focusedLabel}"]`) as HTMLButtonElement | null) : null;
    if (again && !again.disabled) again.focus();
    else if (focusedLabel) (pager.querySelector('button:not([disabled])') as HTMLButtonElement | null)?.focus();
  };

  const update = (head: boolean) => {
    compute();
    if (head) renderHead();
    renderBody();
    live.textContent = `${formatInt(visible.length)} rows, sorted by ${spec.columns.find((c) => c.id === state.column)?.label ?? ''} ${state.direction === 'asc' ? 'ascending' : 'descending'}`;
  };

  const setQuery = (query: string) => {
    state.query = query;
    searchInput.value = query;
    state.page = 0;
    update(false);
  };

  // Typing into 100,000 rows should not stutter: wait for a pause on big tables.
  let timer: number | undefined;
  searchInput.addEventListener('input', () => {
    window.clearTimeout(timer);
    const run = () => setQuery(searchInput.value);
    if (rows.length > 20_000) timer = window.setTimeout(run, 150);
    else run();
  });

  update(true);

  return h(
    'section',
    { class: 'panel table-panel', 'data-table': spec.id, 'aria-labelledby': `${spec.id}-title` },
    h('header', { class: 'panel-header' },
      h('div', { class: 'panel-heading' }, heading, spec.description ? h('p', { class: 'panel-subtitle' }, spec.description) : null),
      h('div', { class: 'panel-actions' },
        spec.actions ?? null,
        h('div', { class: 'search' }, icon('search', 'icon search-icon'), searchInput),
      ),
    ),
    scroller,
    pager,
    live,
  );
}
