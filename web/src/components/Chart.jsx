// A uPlot chart as a component: made once, fed new data with setData, sized
// to its box. Colours come from the page's CSS variables so light and dark
// both read.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export const cssVar = (name, fallback) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;

/** opts(width, height) → uPlot options; data: uPlot's aligned arrays. */
export function Chart({ opts, data, height, testid, class: cls }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const w = Math.max(50, el.clientWidth || 200);
    plot.current = new uPlot(opts(w, height), data, el);
    const ro = new ResizeObserver(() => {
      const nw = Math.max(50, el.clientWidth);
      if (plot.current && Math.abs(nw - plot.current.width) > 1) plot.current.setSize({ width: nw, height });
    });
    ro.observe(el);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { plot.current?.setData(data); }, [data]);
  return <div class={`chart ${cls || ''}`} ref={box} data-testid={testid} />;
}
