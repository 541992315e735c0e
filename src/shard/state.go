package shard

// State is where a shard is in its lifecycle.
type State int32

const (
	Disconnected State = iota // not connected, waiting to (re)connect
	Connecting                // dialing, waiting for HELLO
	Identifying               // waiting for the identify limit, IDENTIFY sent
	Resuming                  // RESUME sent, replay in progress
	Connected                 // READY received, initial guilds still arriving
	Ready                     // guilds loaded (or CORDIS_WS_GUILD_TIMEOUT passed), or RESUMED
	Stopped                   // fatal close code; will not reconnect
)

func (s State) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connecting:
		return "connecting"
	case Identifying:
		return "identifying"
	case Resuming:
		return "resuming"
	case Connected:
		return "connected"
	case Ready:
		return "ready"
	case Stopped:
		return "stopped"
	}
	return "unknown"
}
