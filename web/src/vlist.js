// VList: a virtualised list of fixed-height rows. Only the rows in sight (plus
// a few) exist in the DOM, recycled as the list scrolls, so 100,000 items cost
// the same to show as 40. The source is anything with length and at(i).

export class VList {
  /**
   * @param {HTMLElement} root scroll container
   * @param {{rowHeight:number, create:(row:HTMLElement)=>void, render:(row:HTMLElement, item:any, i:number)=>void,
   *          onClick?:(item:any, row:HTMLElement)=>void, onFollowChange?:(follow:boolean)=>void, follow?:boolean}} opts
   */
  constructor(root, opts) {
    this.root = root;
    this.rh = opts.rowHeight;
    this.create = opts.create;
    this.renderRow = opts.render;
    this.onFollowChange = opts.onFollowChange || (() => {});
    this.follow = opts.follow ?? false;
    this.src = { length: 0, at: () => undefined };
    this.pool = [];
    this.version = 0; // bumped when rows must be redrawn even if the item is the same
    this.lastSetTop = -1;
    this.pending = false;
    this.spacer = document.createElement('div');
    this.spacer.className = 'vspace';
    root.append(this.spacer);
    root.addEventListener('scroll', () => this.onScroll(), { passive: true });
    if (opts.onClick) {
      root.addEventListener('click', (e) => {
        const row = e.target.closest('.vrow');
        if (row && row._item !== undefined) opts.onClick(row._item, row);
      });
    }
    this.h = 0;
    this.ro = new ResizeObserver((entries) => {
      this.h = entries[0].contentRect.height;
      this.update();
    });
    this.ro.observe(root);
    VList.all.add(this);
  }

  /** Stops observing; the component that made it is going away. */
  destroy() {
    this.ro.disconnect();
    VList.all.delete(this);
    this.pending = false;
  }

  /** How many items are at or above the bottom of the view. */
  lastSeenLen() {
    return Math.min(this.src.length, Math.ceil((this.root.scrollTop + this.root.clientHeight) / this.rh));
  }

  setSource(src) { this.src = src; this.version++; this.update(); }

  /** Redraw every visible row on the next frame (the items changed in place). */
  invalidate() { this.version++; this.update(); }

  /** Schedules a render on the next animation frame. */
  update() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { if (!this.pending) return; this.pending = false; this.render(); });
  }

  setFollow(f) {
    if (this.follow === f) return;
    this.follow = f;
    this.onFollowChange(f);
    if (f) this.render();
  }

  /** Keeps the view still when n rows left above it (the oldest were dropped). */
  shiftedBy(n) {
    if (!this.follow && n > 0) {
      const top = Math.max(0, this.root.scrollTop - n * this.rh);
      this.root.scrollTop = top;
      this.lastSetTop = this.root.scrollTop;
    }
  }

  scrollToBottom() { this.setFollow(true); this.render(); }

  onScroll() {
    const r = this.root;
    // Our own scrollTop writes (following, keeping still) fire scroll events
    // too; those rows are already drawn.
    if (Math.abs(r.scrollTop - this.lastSetTop) < 2) return;
    this.lastSetTop = -1;
    const atBottom = r.scrollTop + r.clientHeight >= r.scrollHeight - this.rh * 1.5;
    if (atBottom !== this.follow) this.setFollow(atBottom);
    this.update();
  }

  render() {
    this.renders = (this.renders || 0) + 1;
    const r = this.root, rh = this.rh, n = this.src.length;
    const total = n * rh;
    // Reads first (the height is cached by the ResizeObserver, scrollTop is
    // clean at the start of a frame), then row writes, then the spacer and
    // scrollTop: one layout per redraw instead of a forced one plus the frame's.
    const h = this.h || r.clientHeight;
    const top = this.follow ? Math.max(0, total - h) : r.scrollTop;
    const first = Math.max(0, Math.floor(top / rh) - 4);
    const last = Math.min(n - 1, Math.ceil((top + h) / rh) + 4);
    // The pool is a ring indexed by item index: when the list moves by d
    // rows (scrolling, or following a stream), only d rows get new content;
    // the others keep theirs and their position.
    const size = Math.ceil(h / rh) + 10;
    if (this.pool.length !== size) {
      for (const row of this.pool) row.remove();
      this.pool = [];
      for (let k = 0; k < size; k++) {
        const row = document.createElement('div');
        row.className = 'vrow';
        row.hidden = true;
        row._i = -1;
        this.create(row);
        r.append(row);
        this.pool.push(row);
      }
    }
    for (let i = first; i <= last; i++) {
      const row = this.pool[i % size];
      const item = this.src.at(i);
      if (row._i !== i) { row.style.transform = `translateY(${i * rh}px)`; row._i = i; }
      if (row.hidden) row.hidden = false;
      if (row._item !== item || row._v !== this.version) {
        row._item = item;
        row._v = this.version;
        this.renderRow(row, item, i);
      }
    }
    for (const row of this.pool) {
      if (!row.hidden && (row._i < first || row._i > last)) { row.hidden = true; row._item = undefined; row._i = -1; }
    }
    if (this.spacer._h !== total) { this.spacer.style.height = total + 'px'; this.spacer._h = total; }
    if (this.follow && Math.abs(r.scrollTop - top) >= 1) { r.scrollTop = top; this.lastSetTop = top; }
  }
}

/** Every live list, so the tests can tell when none has a redraw pending. */
VList.all = new Set();
