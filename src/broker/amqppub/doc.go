// Package amqppub is a minimal AMQP 0-9-1 publishing connection, written from the spec
// (AMQP 0-9-1 plus RabbitMQ's publisher confirms and connection.blocked): one
// connection, one channel in confirm mode, publishes out, confirms in. It does nothing
// else: no consuming, no declaring (the broker keeps amqp091-go for those).
//
// Why not amqp091-go: in confirm mode it registers a DeferredConfirmation (allocations
// and a map insert) for every publish, builds every frame through bytes.Buffer and
// table encoding, walks every outstanding publish on each multiple-ack and expands each
// confirm into one channel send per delivery tag. Here a publish is encoded straight
// into the write buffer (no allocation), a batch leaves in one write, and a confirm
// frame reaches the publisher as one range, whatever it covers.
//
// Concurrency: one goroutine (the publisher) calls Publish and Flush; a reader
// goroutine handles what RabbitMQ sends (confirms, heartbeats, blocking, closes); a
// heartbeat goroutine sends heartbeats while the writer is idle and declares a silent
// peer dead. Both end when the connection does.
package amqppub
