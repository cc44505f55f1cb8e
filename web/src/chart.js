// The events-per-minute chart: one bar per minute for the last 30 minutes,
// drawn on a canvas (no chart library), from per-second counts by event time.

const MINUTES = 30;

export class RateChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.seconds = new Map(); // unix second → count
  }

  add(ts) {
    const s = Math.floor(ts / 1000);
    this.seconds.set(s, (this.seconds.get(s) || 0) + 1);
  }

  clear() { this.seconds.clear(); }

  /** Events whose time is within the last 60 s. */
  perMinute(now = Date.now()) {
    const end = Math.floor(now / 1000);
    let n = 0;
    for (let s = end - 59; s <= end; s++) n += this.seconds.get(s) || 0;
    return n;
  }

  prune(now = Date.now()) {
    const oldest = Math.floor(now / 1000) - MINUTES * 60 - 60;
    if (this.seconds.size < MINUTES * 60 + 120) return;
    for (const k of this.seconds.keys()) if (k < oldest) this.seconds.delete(k);
  }

  draw(now = Date.now()) {
    this.prune(now);
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 240, h = c.clientHeight || 44;
    if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const nowS = Math.floor(now / 1000);
    const bars = new Array(MINUTES).fill(0);
    for (const [s, n] of this.seconds) {
      const age = Math.floor((nowS - s) / 60);
      if (age >= 0 && age < MINUTES) bars[MINUTES - 1 - age] += n;
    }
    const max = Math.max(1, ...bars);
    const style = getComputedStyle(document.documentElement);
    const accent = style.getPropertyValue('--accent').trim() || '#2563eb';
    const muted = style.getPropertyValue('--muted').trim() || '#888';
    const bw = w / MINUTES;
    g.fillStyle = accent;
    for (let i = 0; i < MINUTES; i++) {
      const bh = Math.round((bars[i] / max) * (h - 12));
      if (bh > 0) g.fillRect(i * bw + 1, h - bh, Math.max(1, bw - 2), bh);
    }
    g.fillStyle = muted;
    g.font = '10px system-ui, sans-serif';
    g.fillText(`${max}/min max · 30 min`, 3, 10);
    this.lastBars = bars;
  }
}
