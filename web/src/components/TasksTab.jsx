// A session's todo list as mpmd's model keeps it (TodoWrite's, per agent,
// and the task tools'): progress and the items.
import { current } from '../store/session.js';
import { shortId } from '../util.js';

export function TasksTab() {
  const d = current.value.detail;
  const tasks = d?.tasks || [];
  const done = tasks.filter((t) => t.status === 'completed').length;
  const doing = tasks.filter((t) => t.status === 'in_progress').length;
  if (!tasks.length) return <p class="empty" data-testid="tasks-empty">No todo list in this session (TodoWrite, TaskCreate).</p>;
  return (
    <div class="tasks">
      <div class="progress" data-testid="todos-progress" data-completed={done} data-total={tasks.length}>
        <div class="bar" style={{ width: `${(100 * done) / tasks.length}%` }} />
        <span class="txt">{done}/{tasks.length} completed · {doing} in progress · {tasks.length - done - doing} pending</span>
      </div>
      <ul class="todos">
        {tasks.map((t) => (
          <li class={t.status || 'pending'} data-testid="todo-item" data-status={t.status || 'pending'}>
            <span class="t">{t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content}</span>
            {t.agent_id && t.agent_id !== 'main' && <span class="muted small">agent {shortId(t.agent_id)}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
