// Page-level UI state every view may touch: the toast, the details dialog,
// the token dialog and the help dialog.
import { signal } from '@preact/signals';

export const toastMsg = signal({ text: '', n: 0 });
let toastTimer = 0;
export function toast(text) {
  toastMsg.value = { text, n: toastMsg.value.n + 1 };
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toastMsg.value = { text: '', n: toastMsg.value.n }; }, 2500);
}

/** The details dialog: {title, json} or null. */
export const detail = signal(null);
export function showDetail(obj, title) { detail.value = { title, json: JSON.stringify(obj, null, 2) }; }

/** Why the page needs a token (the token dialog is open while set). */
export const tokenAsk = signal('');
export const helpOpen = signal(false);
