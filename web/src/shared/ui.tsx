/**
 * Small building blocks both pages share: buttons, fields, badges, toasts, a
 * modal, the sign-in card, and hooks for loading data and ticking clocks.
 */
import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { messageOf, ok, type TypedAnswer } from './api';
import type { Page } from './types';

// ─── hooks ────────────────────────────────────────────────────────────────────

/** The current time, re-rendering every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): Promise<void>;
  set(data: T): void;
}

/** Loads `fn()` when `deps` change; `reload()` loads again keeping the current data on screen. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const run = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const d = await fnRef.current();
      if (mine === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);
  useEffect(() => {
    void run();
  }, deps);
  return { data, error, loading, reload: run, set: setData };
}

/** Runs an action with a busy flag and reports failures as a toast. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>, opts: { success?: string } = {}) {
  const [busy, setBusy] = useState(false);
  const run = async (...args: A) => {
    setBusy(true);
    try {
      await fn(...args);
      if (opts.success) toast(opts.success, 'ok');
      return true;
    } catch (err) {
      toast(messageOf(err), 'bad');
      return false;
    } finally {
      setBusy(false);
    }
  };
  return [run, busy] as const;
}

// ─── toasts ───────────────────────────────────────────────────────────────────

type Tone = 'ok' | 'bad' | 'info' | 'warn';
interface Toast {
  id: number;
  text: string;
  tone: Tone;
}
let toasts: Toast[] = [];
let toastSeq = 0;
const listeners = new Set<(t: Toast[]) => void>();

/**
 * "Load more" under a list whose first page the page loads itself: the later
 * pages, each fetched by `page(cursor)` (one typed call with the list's query and that cursor), appended in order.
 */
export function useMorePages<K extends string, T>(key: K, page: (cursor: string) => Promise<TypedAnswer<Page<K, T>>>) {
  const [extra, setExtra] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const more = async () => {
    if (!cursor) return;
    try {
      const got = await ok(page(cursor));
      setExtra((e) => [...e, ...got[key]]);
      setCursor(got.nextCursor);
    } catch (err) {
      toast(messageOf(err), 'bad');
    }
  };
  return { extra, setExtra, cursor, setCursor, more };
}

export function toast(text: string, tone: Tone = 'info'): void {
  const t = { id: ++toastSeq, text, tone };
  toasts = [...toasts.slice(-3), t];
  listeners.forEach((l) => l(toasts));
  setTimeout(
    () => {
      toasts = toasts.filter((x) => x.id !== t.id);
      listeners.forEach((l) => l(toasts));
    },
    tone === 'bad' ? 7000 : 4000,
  );
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    listeners.add(setList);
    return () => void listeners.delete(setList);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.tone}`}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

// ─── elements ─────────────────────────────────────────────────────────────────

type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'size' | 'type'> & {
  variant?: 'primary' | 'secondary' | 'danger' | 'ghost' | 'ok';
  size?: 'sm' | 'md' | 'lg';
  busy?: boolean;
  disabled?: boolean;
  type?: 'button' | 'submit';
};

export function Button({
  variant = 'secondary',
  size = 'md',
  busy,
  disabled,
  children,
  class: cls,
  type = 'button',
  ...rest
}: ButtonProps) {
  return (
    <button
      type={type}
      class={`btn btn-${variant} btn-${size} ${cls ?? ''}`}
      disabled={disabled || busy}
      aria-busy={busy ? 'true' : undefined}
      {...rest}
    >
      {busy ? <span class="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}

export function Field({
  label,
  hint,
  error,
  children,
  class: cls,
}: {
  label: string;
  hint?: ComponentChildren;
  error?: string;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <label class={`field ${error ? 'field-error' : ''} ${cls ?? ''}`}>
      <span class="field-label">{label}</span>
      {children}
      {error ? <span class="field-msg">{error}</span> : hint ? <span class="field-hint">{hint}</span> : null}
    </label>
  );
}

const TONES: Record<string, string> = {
  active: 'ok',
  open: 'info',
  sold: 'ok',
  won: 'ok',
  approved: 'ok',
  routing: 'info',
  offered: 'info',
  manual_review: 'warn',
  paused: 'warn',
  expired: 'muted',
  cancelled: 'muted',
  rejected: 'bad',
  refunded: 'muted',
  passed: 'ok',
  unverified: 'warn',
  ping_post: 'brand',
  push: 'violet',
};

export function Badge({ value, tone, children }: { value?: string; tone?: string; children?: ComponentChildren }) {
  const t = tone ?? (value ? TONES[value] : undefined) ?? 'muted';
  return <span class={`badge badge-${t}`}>{children ?? (value ? value.replace(/_/g, ' ') : '')}</span>;
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <div class="empty-title">{title}</div>
      {children ? <div class="empty-body">{children}</div> : null}
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return <div class="note note-bad">{messageOf(error)}</div>;
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="loading">
      <span class="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Panel({
  title,
  actions,
  children,
  class: cls,
}: {
  title?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <section class={`panel ${cls ?? ''}`}>
      {title || actions ? (
        <header class="panel-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions ? <div class="panel-actions">{actions}</div> : null}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function Modal({ title, onClose, children }: { title: string; onClose(): void; children: ComponentChildren }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-label={title}>
        <header class="modal-head">
          <h2>{title}</h2>
          <button class="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div class="modal-body">{children}</div>
      </div>
    </div>
  );
}

/** A secret shown once, with a copy button. */
export function SecretOnce({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret">
      <div class="secret-label">{label}</div>
      <div class="secret-row">
        <code class="secret-value" data-testid="secret">
          {value}
        </code>
        <Button
          size="sm"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(() => setCopied(true));
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
      </div>
      <div class="secret-warn">Shown once: it is stored hashed and cannot be shown again.</div>
    </div>
  );
}

export function Logo({ product }: { product: string }) {
  return (
    <div class="logo">
      <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
        <rect width="32" height="32" rx="8" fill="url(#lwg)" />
        <defs>
          <linearGradient id="lwg" x1="0" y1="0" x2="1" y2="1">
            <stop offset="0" stop-color="#6366f1" />
            <stop offset="1" stop-color="#06b6d4" />
          </linearGradient>
        </defs>
        <path d="M9 8v16h8" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" stroke-linejoin="round" />
        <path
          d="M18 12l3 9 3-9"
          stroke="#fff"
          stroke-width="2.6"
          fill="none"
          stroke-linecap="round"
          stroke-linejoin="round"
        />
      </svg>
      <span class="logo-text">
        Leadwire <span class="logo-product">{product}</span>
      </span>
    </div>
  );
}
