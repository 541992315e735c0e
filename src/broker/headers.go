package broker

import (
	"fmt"
	"math"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/cordis-gateway/cordis/src/broker/amqppub"
)

// shardHeaders keeps one pre-encoded, read-only header table per shard, so that
// publishing neither builds nor encodes a table per dispatch. Owned by the publisher
// goroutine: no lock.
type shardHeaders map[int][]byte

func (h shardHeaders) get(shard int) []byte {
	t, ok := h[shard]
	if !ok {
		// int32: an AMQP signed 32-bit integer ('I'), which every client library reads.
		t = amqppub.AppendTableInt32(nil, HeaderShardID, int32(shard))
		h[shard] = t
	}
	return t
}

// parseShardID reads the optional shard_id header of a command. Any AMQP integer type is
// accepted. ok is false when the header is absent; err is set when it is present but not
// an integer (string, float, bool, null, ...): the command is then refused, since it was
// meant for one shard and must reach no shard rather than all of them. For the same
// reason a value no shard can have (negative or beyond int32) still targets, mapped to -1.
func parseShardID(h amqp.Table) (id int, ok bool, err error) {
	v, present := h[HeaderShardID]
	if !present {
		return 0, false, nil
	}
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return -1, true, nil
		}
		n = int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return -1, true, nil
		}
		n = int64(x)
	default:
		return 0, false, fmt.Errorf("header %s: %T is not an integer", HeaderShardID, v)
	}
	if n < 0 || n > math.MaxInt32 {
		return -1, true, nil
	}
	return int(n), true, nil
}
