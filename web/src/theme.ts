// Light and dark: the choice is kept in localStorage; a first visit follows the system.
// theme-boot.js applies it before the first paint; this module toggles it afterwards.

export type Theme = 'light' | 'dark';

const STORAGE = 'mirrord-usage.theme';
const listeners = new Set<(theme: Theme) => void>();

export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

export function setTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem(STORAGE, theme);
  } catch {
    /* storage disabled: the choice lasts for this page */
  }
  for (const listener of listeners) listener(theme);
}

export function toggleTheme(): Theme {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  setTheme(next);
  return next;
}

export function onThemeChange(listener: (theme: Theme) => void): void {
  listeners.add(listener);
}

/** Until the user picks a theme, follow the system's when it changes. */
export function followSystemTheme(): void {
  const query = window.matchMedia?.('(prefers-color-scheme: dark)');
  query?.addEventListener('change', (event) => {
    let saved: string | null = null;
    try {
      saved = localStorage.getItem(STORAGE);
    } catch {
      /* ignore */
    }
    if (saved) return;
    document.documentElement.dataset.theme = event.matches ? 'dark' : 'light';
    for (const listener of listeners) listener(currentTheme());
  });
}

/** Reads a colour token from the stylesheet, so charts use the same palette as the page. */
export function token(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();
}
