// SeqList: events kept in seq order in one array with a moving start, so that
// dropping the oldest is O(1) and appending in order is a push. Events that
// arrive out of order (namespaces are separate streams) are inserted by binary
// search, which is cheap because they land near the end.

export class SeqList {
  constructor() {
    this.arr = [];
    this.start = 0;
  }
  get length() { return this.arr.length - this.start; }
  at(i) { return this.arr[this.start + i]; }
  first() { return this.arr[this.start]; }
  last() { return this.arr[this.arr.length - 1]; }

  /** Inserts ev by its sort key; returns the index it got. */
  insert(ev) {
    const a = this.arr;
    if (a.length === this.start || a[a.length - 1].k <= ev.k) {
      a.push(ev);
      return a.length - 1 - this.start;
    }
    let lo = this.start, hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].k <= ev.k) lo = mid + 1; else hi = mid;
    }
    a.splice(lo, 0, ev);
    return lo - this.start;
  }

  /** Drops the n oldest and returns them. */
  shift(n) {
    n = Math.min(n, this.length);
    const out = this.arr.slice(this.start, this.start + n);
    this.start += n;
    this.compact();
    return out;
  }

  /** Drops the oldest while pred holds; returns how many. */
  dropWhile(pred) {
    let n = 0;
    while (this.start < this.arr.length && pred(this.arr[this.start])) { this.start++; n++; }
    if (n) this.compact();
    return n;
  }

  compact() {
    // Reclaim the dead prefix once it is large, amortised O(1) per event.
    if (this.start > 4096 && this.start * 2 > this.arr.length) {
      this.arr = this.arr.slice(this.start);
      this.start = 0;
    }
  }

  clear() { this.arr = []; this.start = 0; }
  *[Symbol.iterator]() { for (let i = this.start; i < this.arr.length; i++) yield this.arr[i]; }
  toArray() { return this.arr.slice(this.start); }
}
