/** A tiny history router for the console: /admin/<section>/<id>. */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();
const here = () => location.pathname + location.search;

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === here()) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
  if (!opts.replace) window.scrollTo(0, 0);
}

/** The current path and search, re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [loc, setLoc] = useState(here());
  useEffect(() => {
    const on = () => setLoc(here());
    listeners.add(on);
    window.addEventListener('popstate', on);
    return () => {
      listeners.delete(on);
      window.removeEventListener('popstate', on);
    };
  }, []);
  const [path, search = ''] = loc.split('?');
  return { path: path!.replace(/\/+$/, '') || '/', query: new URLSearchParams(search) };
}

/** `/admin/leads/:id` against `/admin/leads/123` → `{id: "123"}`; null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) out[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}

export function Link({
  href,
  children,
  class: cls,
  title,
}: {
  href: string;
  children: ComponentChildren;
  class?: string;
  title?: string;
}) {
  return (
    <a
      href={href}
      class={cls}
      title={title}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
