// Claude's text as Markdown, made safe: marked renders it, DOMPurify keeps
// only the tags and attributes of plain formatted text (no images, no
// forms, no styles, no event handlers, no script), and every link that is
// not http(s) or mailto loses its href. Links open in a new tab without
// the opener. The page loads nothing a message names.
import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const ALLOWED_TAGS = ['a', 'b', 'blockquote', 'br', 'code', 'del', 'details', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr',
  'i', 'kbd', 'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul', 'input'];
const ALLOWED_ATTR = ['href', 'title', 'align', 'colspan', 'rowspan', 'type', 'checked', 'disabled', 'start'];

const purify = DOMPurify(window);
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    const href = node.getAttribute('href') || '';
    if (!/^(https?:|mailto:)/i.test(href)) node.removeAttribute('href');
    else {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
  }
  // GFM task lists are the only inputs kept: disabled checkboxes.
  if (node.tagName === 'INPUT') {
    if ((node.getAttribute('type') || '').toLowerCase() !== 'checkbox') node.remove();
    else node.setAttribute('disabled', '');
  }
});

const cache = new Map();

/** Markdown text → sanitised HTML (cached: the same text renders once). */
export function renderMarkdown(text) {
  const s = typeof text === 'string' ? text : '';
  let html = cache.get(s);
  if (html !== undefined) return html;
  html = purify.sanitize(marked.parse(s), { ALLOWED_TAGS, ALLOWED_ATTR, ALLOW_DATA_ATTR: false, ALLOW_ARIA_ATTR: false });
  if (cache.size > 2000) cache.delete(cache.keys().next().value);
  cache.set(s, html);
  return html;
}
