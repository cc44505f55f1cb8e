// The page's dialogs (an event's JSON, the token, the shortcuts) and its toast.
import { useEffect, useRef } from 'preact/hooks';
import { detail, tokenAsk, helpOpen, toastMsg, toast } from '../store/ui.js';
import { setToken } from '../config.js';
import { connect, disconnect } from '../store/live.js';

/** A <dialog> shown modally while open is true; closing it calls onClose. */
function Dialog({ open, onClose, testid, class: cls, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return <dialog ref={ref} data-testid={testid} class={cls} onClose={(e) => onClose(e.currentTarget.returnValue)}>{children}</dialog>;
}

export function DetailDialog() {
  const d = detail.value;
  return (
    <Dialog open={!!d} testid="detail-dialog" class="detail" onClose={() => { detail.value = null; }}>
      <form method="dialog" class="dlghead"><strong data-testid="detail-title">{d?.title}</strong><span class="spacer" />
        <button type="button" data-testid="detail-copy" class="small"
          onClick={() => navigator.clipboard?.writeText(d?.json || '').then(() => toast('Copied'), () => toast('Copy failed'))}>Copy</button>
        <button value="close" data-testid="detail-close" class="small" aria-label="Close">✕</button></form>
      <pre data-testid="detail-json">{d?.json}</pre>
    </Dialog>
  );
}

export function TokenDialog() {
  const input = useRef(null);
  const reason = tokenAsk.value;
  const close = (rv) => {
    tokenAsk.value = '';
    const t = input.current?.value.trim();
    if (rv !== 'ok' || !t) return;
    setToken(t);
    disconnect('idle', 'connecting…');
    connect();
  };
  useEffect(() => { if (reason && input.current) input.current.value = ''; }, [reason]);
  return (
    <Dialog open={!!reason} testid="token-dialog" onClose={close}>
      <form method="dialog" data-testid="token-form">
        <h3>Token required</h3>
        <p class="small" data-testid="token-reason">{reason}</p>
        <input type="password" name="token" ref={input} data-testid="token-input" placeholder="token" autocomplete="off" required />
        <div class="row"><span class="spacer" /><button value="cancel" formNoValidate>Cancel</button><button value="ok" data-testid="token-submit">Connect</button></div>
      </form>
    </Dialog>
  );
}

export function HelpDialog({ version }) {
  return (
    <Dialog open={helpOpen.value} testid="help-dialog" onClose={() => { helpOpen.value = false; }}>
      <form method="dialog">
        <h3>Keyboard shortcuts</h3>
        <table class="grid compact">
          <tr><td><kbd>j</kbd> <kbd>k</kbd> or <kbd>↓</kbd> <kbd>↑</kbd></td><td>next or previous session (on a session page: open it)</td></tr>
          <tr><td><kbd>Enter</kbd></td><td>open the highlighted session</td></tr>
          <tr><td><kbd>Ctrl/Cmd</kbd>+<kbd>K</kbd></td><td>focus the search</td></tr>
          <tr><td><kbd>Ctrl/Cmd</kbd>+<kbd>E</kbd></td><td>export the filtered events as JSON</td></tr>
          <tr><td><kbd>Ctrl/Cmd</kbd>+<kbd>R</kbd></td><td>clear the event view (the store keeps everything: see History)</td></tr>
          <tr><td><kbd>Esc</kbd></td><td>close a dialog, leave the search, or go back to the sessions</td></tr>
          <tr><td><kbd>?</kbd></td><td>this list</td></tr>
        </table>
        <p class="small muted">URL parameters: <code>?port=</code>, <code>?autoconnect=false</code>, <code>?token=</code>, <code>?buffer=</code> (events kept in the page), <code>?history=</code> (events loaded on open), <code>?transport=polling</code>. socket.io-client {version}.</p>
        <div class="row"><span class="spacer" /><button value="close">Close</button></div>
      </form>
    </Dialog>
  );
}

export function Toast() {
  const t = toastMsg.value;
  return <div class="toast" data-testid="toast" hidden={!t.text}>{t.text}</div>;
}
