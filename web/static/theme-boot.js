// Runs before the first paint: applies the saved theme, or the system preference on a first visit.
(function () {
  var theme = null;
  try { theme = localStorage.getItem('mirrord-usage.theme'); } catch (e) { /* storage disabled */ }
  if (theme !== 'light' && theme !== 'dark') {
    theme = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  document.documentElement.dataset.theme = theme;
})();
