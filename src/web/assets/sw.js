// camvault's service worker: makes the web interface an installable app with an offline
// page. It keeps only the shell's static files (script, style, icons, the offline page).
// Footage (/media/), the API (/api/) and the pages themselves (they carry a session's
// CSRF token) always go to the network and are never stored here.
'use strict';

const CACHE = 'camvault-shell-v1';
const SHELL = ['/assets/app.js', '/assets/app.css', '/assets/icon.svg', '/assets/icon-192.png', '/offline'];

self.addEventListener('install', ev => {
  ev.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', ev => {
  ev.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(k => k !== CACHE).map(k => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', ev => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  // Footage and data: straight to the network, never cached (no respondWith at all).
  if (url.pathname.startsWith('/media/') || url.pathname.startsWith('/api/')) return;
  if (req.mode === 'navigate') {
    // Pages: the network; the offline page when camvault cannot be reached.
    ev.respondWith(fetch(req).catch(() => caches.match('/offline')));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    // The shell: the network first (a new camvault brings new files), the copy offline.
    ev.respondWith(fetch(req).then(res => {
      if (res.ok) { const copy = res.clone(); caches.open(CACHE).then(c => c.put(req, copy)); }
      return res;
    }).catch(() => caches.match(req)));
  }
});
