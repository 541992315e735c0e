package shard

import "time"

// maxCommandAge bounds how late a command may reach Discord: one send
// window. A command that waited longer (the shard was reconnecting, or
// workers published faster than the send limit drains) is dropped, counted
// and logged instead of arriving minutes late. Together with
// CommandQueueSize (one window's worth of sends) it keeps the queue's
// delay and memory small.
const maxCommandAge = sendWindow

// queuedCommand is a validated command waiting for its shard's writer,
// with when it was queued.
type queuedCommand struct {
	body []byte
	at   time.Time
}

// enqueue queues a command without blocking; a full queue drops it.
func (s *Shard) enqueue(body []byte) bool {
	select {
	case s.cmds <- queuedCommand{body: body, at: s.cfg.Clock.Now()}:
		return true
	default:
		s.commandDropped(dropQueueFull, 0)
		return false
	}
}
