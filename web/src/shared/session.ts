/**
 * The signed-in key lives in sessionStorage: it survives a reload of the tab,
 * is gone when the tab closes, and is never written into a page URL (only the
 * feed's WebSocket URL carries it, as `?token=`, since a browser cannot set
 * headers on a WebSocket).
 */
export type KeyKind = 'buyer' | 'admin' | 'source';

const storageKey = (kind: KeyKind) => `leadwire.${kind}Key`;

export function loadKey(kind: KeyKind): string | null {
  try {
    return sessionStorage.getItem(storageKey(kind));
  } catch {
    return null;
  }
}

export function saveKey(kind: KeyKind, key: string): void {
  try {
    sessionStorage.setItem(storageKey(kind), key);
  } catch {
    /* private mode without storage: the key lives as long as the page */
  }
}

export function clearKey(kind: KeyKind): void {
  try {
    sessionStorage.removeItem(storageKey(kind));
  } catch {
    /* nothing stored */
  }
}
