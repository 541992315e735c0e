// Package broker is the gateway's RabbitMQ side (DESIGN.md §3): it publishes every
// dispatch to the `gateway` exchange with publisher confirms, and consumes commands from the
// `gateway_commands` fanout exchange.
//
// Design:
//
//   - Publish copies the body into a pooled buffer and appends it to the outbox, a bounded
//     in-order buffer (outbox.go). It returns at once unless the outbox is full; then it
//     blocks, first come first served, until confirms free room (back-pressure).
//   - One publisher goroutine owns the publishing connection (publisher.go; package
//     amqppub, our own AMQP code: amqp091's confirm mode cost more than the rest of the
//     gateway). It takes pending dispatches from the outbox a batch at a time, in order,
//     at most maxInflight unconfirmed, encodes them straight into the connection's write
//     buffer and writes the batch at once. Confirms arrive as ranges of tags (one per
//     ack or nack frame); a confirmed range leaves the outbox under one lock, a nacked
//     one is published again. amqp091 keeps a second connection for declaring the
//     topology and consuming commands.
//   - A frozen connection (RabbitMQ stops reading and answering, the socket stays open)
//     is noticed within stallTimeout: a socket write that moves no byte fails, and a
//     watchdog cuts the socket when nothing is confirmed while dispatches are in flight,
//     unless RabbitMQ blocks publishers for a resource alarm. It is then cut, not closed
//     politely, and replaced like any lost connection.
//   - The connection manager (broker.go, session.go) owns both connections. On any loss of
//     either connection or a channel it puts every unconfirmed dispatch back in front of the
//     pending ones, reconnects with jittered capped backoff, redeclares the topology,
//     consumes again, and the publisher carries on: at-least-once, nothing lost but a
//     dispatch RabbitMQ refuses as larger than its max_message_size, which is dropped once
//     (dropRefused) rather than closing the channel forever. Order holds except across a
//     nack: the nacked dispatch goes out again after those already in flight.
//   - The consumer (consumer.go) forwards each session's deliveries to one Commands channel
//     that outlives sessions.
//   - Close refuses new dispatches, waits for every confirm (until its ctx ends), then
//     closes the connection; every goroutine ends.
package broker
