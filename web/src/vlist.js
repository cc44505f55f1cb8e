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
    new ResizeObserver(() => this.update()).observe(root);
  }

  setSource(src) { this.src = src; this.version++; this.update(); }

  /** Redraw every visible row on the next frame (the items changed in place). */
  invalidate() { this.version++; this.update(); }

  /** Schedules a render on the next animation frame. */
  update() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.render(); });
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
    if (Math.abs(r.scrollTop - this.lastSetTop) < 2) { this.update(); return; }
    this.lastSetTop = -1;
    const atBottom = r.scrollTop + r.clientHeight >= r.scrollHeight - this.rh * 1.5;
    if (atBottom !== this.follow) this.setFollow(atBottom);
    this.update();
  }

  render() {
    const r = this.root, rh = this.rh, n = this.src.length;
    const total = n * rh;
    if (this.spacer._h !== total) { this.spacer.style.height = total + 'px'; this.spacer._h = total; }
    const h = r.clientHeight;
    if (this.follow) {
      const top = Math.max(0, total - h);
      if (Math.abs(r.scrollTop - top) >= 1) { r.scrollTop = top; this.lastSetTop = r.scrollTop; }
    }
    const top = r.scrollTop;
    const first = Math.max(0, Math.floor(top / rh) - 4);
    const last = Math.min(n - 1, Math.ceil((top + h) / rh) + 4);
    const need = Math.max(0, last - first + 1);
    while (this.pool.length < need) {
      const row = document.createElement('div');
      row.className = 'vrow';
      this.create(row);
      r.append(row);
      this.pool.push(row);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      if (k >= need) {
        if (!row.hidden) { row.hidden = true; row._item = undefined; }
        continue;
      }
      const i = first + k;
      const item = this.src.at(i);
      if (row.hidden) row.hidden = false;
      if (row._i !== i) { row.style.transform = `translateY(${i * rh}px)`; row._i = i; }
      if (row._item !== item || row._v !== this.version) {
        row._item = item;
        row._v = this.version;
        this.renderRow(row, item, i);
      }
    }
  }
}
