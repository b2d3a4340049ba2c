// A tiny element builder: the views are plain DOM, no framework, so the bundle stays small and
// the dashboard has no runtime dependency beyond the chart library.

export type Child = Node | string | number | null | undefined | false | Child[];
type Listener = (event: any) => void;
export type Props = Record<string, unknown> & { class?: string | false | null };

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value as Listener);
    } else if (key === 'value' || key === 'checked') (node as any)[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A `<time>` that reads relative and shows the exact time on hover and to screen readers. */
export function time(ts: string | null | undefined, text: string, exact: string): HTMLElement {
  if (!ts) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: ts, title: exact }, text);
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
