package types

import (
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/zishang520/socket.io/v3/pkg/log"
)

const (
	// Version current version number
	EventVersion = "0.0.3"
)

var eventsLog = log.NewLog("engine:events")

type (
	// EventName is just a type of string, it's the event name
	EventName string
	// Listener is the type of a Listener, it's a func which receives any,optional, arguments from the caller/emmiter
	EventListener func(...any)
	// Events the type for registered listeners, it's just a map[string][]func(...any)
	Events map[EventName][]EventListener
	// EventEmitter is the message/or/event manager
	EventEmitter interface {
		// AddListener is an alias for .On(eventName, listener).
		AddListener(EventName, ...EventListener) error
		// Emit fires a particular event,
		// Synchronously calls each of the listeners registered for the event named
		// eventName, in the order they were registered,
		// passing the supplied arguments to each.
		Emit(EventName, ...any)
		// EventNames returns an array listing the events for which the emitter has registered listeners.
		// The values in the array will be strings.
		EventNames() []EventName
		// ListenerCount returns the length of all registered listeners to a particular event
		ListenerCount(EventName) int
		// Listeners returns a copy of the array of listeners for the event named eventName.
		Listeners(EventName) []EventListener
		// On registers a particular listener for an event, func receiver parameter(s) is/are optional
		On(EventName, ...EventListener) error
		// Once adds a one time listener function for the event named eventName.
		// The next time eventName is triggered, this listener is removed and then invoked.
		Once(EventName, ...EventListener) error
		// RemoveAllListeners removes all listeners, or those of the specified eventName.
		// Note that it will remove the event itself.
		// Returns an indicator if event and listeners were found before the remove.
		RemoveAllListeners(EventName) bool
		// RemoveListener removes given listener from the event named eventName.
		// Returns an indicator whether listener was removed
		RemoveListener(EventName, EventListener) bool
		// Clear removes all events and all listeners, restores Events to an empty value
		Clear()
		// Len returns the length of all registered events
		Len() int
	}

	eventEntry struct {
		fn  EventListener
		ptr uintptr
	}

	// emmiter keeps its listeners in one small slice of events, each with
	// a list that is replaced, never changed in place (copy on write), so
	// that Emit calls a snapshot without holding the lock. The library's
	// emitter kept a concurrent map (a read map, a dirty copy, an entry
	// and a locked Slice per event): with several emitters per
	// connection, kilobytes of every idle connection's heap.
	emmiter struct {
		mu     sync.RWMutex
		events []eventListeners
	}

	eventListeners struct {
		evt  EventName
		list []*eventEntry
	}
)

// CopyTo copies the event listeners to an EventEmitter
func (e Events) CopyTo(emitter EventEmitter) {
	if len(e) > 0 {
		// register the events to/with their listeners
		for evt, listeners := range e {
			if len(listeners) > 0 {
				_ = emitter.AddListener(evt, listeners...)
			}
		}
	}
}

// New returns a new, empty, EventEmitter
func NewEventEmitter() EventEmitter {
	return &emmiter{}
}

// find returns the index of evt's listeners, or -1; e.mu is held.
func (e *emmiter) find(evt EventName) int {
	for i := range e.events {
		if e.events[i].evt == evt {
			return i
		}
	}
	return -1
}

// list returns evt's listeners: a snapshot that is never changed.
func (e *emmiter) list(evt EventName) []*eventEntry {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if i := e.find(evt); i >= 0 {
		return e.events[i].list
	}
	return nil
}

func (e *emmiter) addListeners(evt EventName, listeners []*eventEntry) error {
	if len(listeners) == 0 {
		return nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.find(evt)
	if i < 0 {
		e.events = append(e.events, eventListeners{evt: evt, list: listeners})
		return nil
	}
	old := e.events[i].list
	list := make([]*eventEntry, 0, len(old)+len(listeners))
	e.events[i].list = append(append(list, old...), listeners...)
	return nil
}

func (e *emmiter) AddListener(evt EventName, listeners ...EventListener) error {
	if len(listeners) == 0 {
		return nil
	}

	var events []*eventEntry
	for _, event := range listeners {
		if event != nil {
			events = append(events, &eventEntry{fn: event, ptr: reflect.ValueOf(event).Pointer()})
		}
	}

	return e.addListeners(evt, events)
}

// Alias: [AddListener]
func (e *emmiter) On(evt EventName, listeners ...EventListener) error {
	return e.AddListener(evt, listeners...)
}

func (e *emmiter) Emit(evt EventName, data ...any) {
	for _, event := range e.list(evt) {
		if event != nil {
			func() {
				defer func() {
					if r := recover(); r != nil {
						// Prevent a panicking listener from crashing the emitter.
						eventsLog.Errorf("event listener panic recovered: %v\n%s", r, debug.Stack())
					}
				}()
				event.fn(data...)
			}()
		}
	}
}

func (e *emmiter) EventNames() []EventName {
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]EventName, len(e.events))
	for i := range e.events {
		names[i] = e.events[i].evt
	}
	return names
}

func (e *emmiter) ListenerCount(evt EventName) int {
	return len(e.list(evt))
}

func (e *emmiter) Listeners(evt EventName) []EventListener {
	datas := e.list(evt)
	if datas == nil {
		return nil
	}

	listeners := make([]EventListener, len(datas))
	for i, l := range datas {
		listeners[i] = l.fn
	}

	return listeners
}

type oneTimeListener struct {
	fired sync.Once

	evt     EventName
	emitter *emmiter
	fn      EventListener
}

func (l *oneTimeListener) execute(vals ...any) {
	l.fired.Do(func() {
		// Remove before invoking so reentrant Emit cannot enter this sync.Once.
		l.emitter.RemoveListener(l.evt, l.fn)
		l.fn(vals...)
	})
}

func (e *emmiter) Once(evt EventName, listeners ...EventListener) error {
	if len(listeners) == 0 {
		return nil
	}

	var events []*eventEntry
	for _, event := range listeners {
		if event != nil {
			oneTime := &oneTimeListener{evt: evt, emitter: e, fn: event}
			events = append(events, &eventEntry{fn: oneTime.execute, ptr: reflect.ValueOf(event).Pointer()})
		}
	}
	return e.addListeners(evt, events)
}

// RemoveListener removes the specified listener from the listener array for the event named eventName.
// Like the library's, it removes the first listener registered with the same function pointer.
func (e *emmiter) RemoveListener(evt EventName, listener EventListener) bool {
	if listener == nil {
		return false
	}

	targetPtr := reflect.ValueOf(listener).Pointer()

	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.find(evt)
	if i < 0 {
		return false
	}
	old := e.events[i].list
	for j, l := range old {
		if l.ptr == targetPtr {
			list := make([]*eventEntry, 0, len(old)-1)
			e.events[i].list = append(append(list, old[:j]...), old[j+1:]...)
			return true
		}
	}
	return false
}

func (e *emmiter) RemoveAllListeners(evt EventName) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := e.find(evt)
	if i < 0 {
		return false
	}
	e.events = append(e.events[:i], e.events[i+1:]...)
	return true
}

func (e *emmiter) Clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = nil
}

func (e *emmiter) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.events)
}
