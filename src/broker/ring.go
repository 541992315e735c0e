package broker

import "time"

// entry is one dispatch waiting in the outbox.
type entry struct {
	buf   *[]byte // pooled backing array of body, returned to the pool once confirmed
	body  []byte
	cost  int    // what it counts against the buffer bound: costOf(body)
	key   string // interned routing key
	shard int
	ref   int64     // the publisher's reference, handed back by OnConfirm
	at    time.Time // when Publish accepted it: the AMQP timestamp, kept on republish
	tag   uint64    // delivery tag on the current channel, once published
	hole  bool      // in inflight: confirmed already, behind an unconfirmed entry
}

// ring is a growable double-ended queue of entries. It does not allocate in steady state:
// slots are reused and the backing array only grows.
type ring struct {
	items []entry
	head  int
	n     int
}

func (r *ring) len() int { return r.n }

func (r *ring) slot(i int) int { return (r.head + i) & (len(r.items) - 1) }

// at returns the i-th entry from the front.
func (r *ring) at(i int) *entry { return &r.items[r.slot(i)] }

func (r *ring) grow() {
	if r.n < len(r.items) {
		return
	}
	size := 2 * len(r.items)
	if size == 0 {
		size = 64
	}
	items := make([]entry, size) // power of two, so slot() can mask
	for i := 0; i < r.n; i++ {
		items[i] = r.items[r.slot(i)]
	}
	r.items, r.head = items, 0
}

func (r *ring) pushBack(e entry) {
	r.grow()
	r.items[r.slot(r.n)] = e
	r.n++
}

func (r *ring) pushFront(e entry) {
	r.grow()
	r.head = (r.head - 1) & (len(r.items) - 1)
	r.items[r.head] = e
	r.n++
}

func (r *ring) popFront() entry {
	e := r.items[r.head]
	r.items[r.head] = entry{} // drop references for the GC
	r.head = (r.head + 1) & (len(r.items) - 1)
	r.n--
	return e
}

func (r *ring) popBack() entry {
	i := r.slot(r.n - 1)
	e := r.items[i]
	r.items[i] = entry{}
	r.n--
	return e
}

// removeAt removes and returns the i-th entry from the front, closing the gap (O(n): only
// for rare paths).
func (r *ring) removeAt(i int) entry {
	e := *r.at(i)
	for j := i; j < r.n-1; j++ {
		*r.at(j) = *r.at(j + 1)
	}
	r.popBack()
	return e
}
