package broker

import (
	amqp "github.com/rabbitmq/amqp091-go"
)

// Command is one message from gateway_commands, for the cluster to validate and forward.
type Command struct {
	Body     []byte // exactly as published; the cluster validates it
	ShardID  int    // target shard when Targeted (-1: an id no shard can have)
	Targeted bool   // the AMQP header shard_id was set to an integer
	// BadShardID says why the shard_id header is unusable (present, but
	// not an integer): the command was meant for one shard, so it must
	// reach none rather than all of them. The cluster refuses it.
	BadShardID error
}

// forward hands one session's deliveries to the Commands channel, which outlives
// sessions, until the deliveries end (session lost or consumer cancelled) or
// StopConsuming.
func (b *Broker) forward(deliveries <-chan amqp.Delivery) {
	defer b.fwd.Done()
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return
			}
			cmd := b.command(d)
			select {
			case b.commands <- cmd:
			case <-b.stopConsume:
				return
			}
		case <-b.stopConsume:
			return
		}
	}
}

func (b *Broker) command(d amqp.Delivery) Command {
	cmd := Command{Body: d.Body} // amqp091 gives every delivery its own body: no copy needed
	id, ok, err := parseShardID(d.Headers)
	switch {
	case err != nil:
		cmd.BadShardID = err
	case ok:
		cmd.ShardID, cmd.Targeted = id, true
	}
	return cmd
}

// StopConsuming cancels the command consumer (shutdown step 1) and closes the Commands
// channel once no delivery can be sent on it any more. It does not wait for the broker's
// reply: shutdown must not hang on a dead connection.
func (b *Broker) StopConsuming() {
	b.stopConsumeOnce.Do(func() {
		b.mu.Lock()
		b.consumeStopped = true
		s := b.sess
		b.mu.Unlock()
		close(b.stopConsume)
		if s != nil {
			b.cancelConsumer(s)
		}
		b.fwd.Wait()
		close(b.commands)
		b.log.Info("stopped consuming commands")
	})
}

// cancelConsumer tells the broker to stop delivering commands; cancelling the last consumer
// also deletes the auto-delete queue. It runs in the background: the write can block behind
// a publish stuck on a blocked connection (resource alarm), and shutdown must not wait for
// it. It ends at the latest when the connection is closed.
func (b *Broker) cancelConsumer(s *session) {
	if s.con == nil {
		return
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if err := s.con.Cancel(b.consumerTag, true); err != nil {
			b.log.Debug("cancel command consumer", "error", err)
		}
	}()
}
