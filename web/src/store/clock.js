// The page's clock: a signal that moves once a second, so durations of
// running things tick without any event.
import { signal } from '@preact/signals';

export const clock = signal(Date.now());
setInterval(() => { clock.value = Date.now(); }, 1000);
