package integration

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// frozenDetectBound is how long a frozen RabbitMQ connection may go unnoticed and
// unreplaced: the gateway presumes it frozen after 5 s without progress (a write that
// moves no byte, or no confirm while dispatches are in flight), cuts it and reconnects
// after a backoff of at most ~1 s.
const frozenDetectBound = 12 * time.Second

// Issue 8 point 3: the gateway reaches RabbitMQ through a proxy that freezes the open
// connection (RabbitMQ stops reading and answering; new connections still work) while
// dispatches flow, fast enough to fill the socket's buffers or slowly. The gateway
// notices within a few seconds, replaces the connection without waiting on the stuck
// write, and every dispatch still reaches a consumer connected directly to the broker.
func TestFault_FrozenAMQPConnectionIsReplacedWithinSecondsAndLosesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		burst int           // dispatches sent back to back ...
		every time.Duration // ... every this often
	}{
		{"fast", 20, 10 * time.Millisecond}, // ~2,000/s: the socket's buffers fill within seconds
		{"slow", 1, 200 * time.Millisecond}, // 5/s: the buffers never fill
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDiscord(t, fakediscord.Options{})
			ev := eventName("FROZEN_" + tc.name)
			c := newConsumer(t, ev)
			proxy := newFaultProxy(t, amqpHost(t))
			g := s.start(map[string]string{"CORDIS_AMQP_HOST": amqpVia(t, proxy.addr())})
			s.waitSessions(0)

			var (
				stop    atomic.Bool
				sendErr atomic.Value
				wg      sync.WaitGroup
				sent    atomic.Int64
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					for range tc.burst {
						if _, err := s.discord.Dispatch(0, ev, fakediscord.SampleMessageCreate()); err != nil {
							sendErr.Store(err)
							return
						}
						sent.Add(1)
					}
					time.Sleep(tc.every)
				}
			}()
			defer func() { stop.Store(true); wg.Wait() }()

			time.Sleep(2 * time.Second) // dispatches flowing
			before := proxy.connections()
			proxy.freeze()
			frozen := time.Now()
			g.waitLog(3*time.Minute, "that the frozen RabbitMQ connection was lost", msgContains("rabbitmq connection lost"))
			g.waitLog(3*time.Minute, "that the RabbitMQ connection recovered", msgContains("rabbitmq connection recovered"))
			took := time.Since(frozen)
			t.Logf("frozen connection replaced after %v (%d dispatches sent so far)", took.Round(time.Millisecond), sent.Load())
			if took > frozenDetectBound {
				t.Errorf("the frozen connection was replaced after %v, want within %v", took.Round(time.Millisecond), frozenDetectBound)
			}
			if after := proxy.connections(); after <= before {
				t.Errorf("no new connection through the proxy (%d before the freeze, %d after)", before, after)
			}

			time.Sleep(2 * time.Second) // dispatches flowing on the new connection
			stop.Store(true)
			wg.Wait()
			if err, _ := sendErr.Load().(error); err != nil {
				t.Fatalf("fakediscord dispatch: %v", err)
			}
			requireNoLoss(s, c, ev, 90*time.Second)
			g.requireRunning()
		})
	}
}
