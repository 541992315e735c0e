package codec

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// etfVector is one payload produced by Erlang's term_to_binary
// (testdata/gen_vectors.escript) with what Scan must find in it.
type etfVector struct {
	name    string
	payload []byte
	d       []byte // d encoded alone, without the version byte; nil when absent
	op      int
	seq     int64
	hasSeq  bool
	t       string // "" for nil
}

func loadETFVectors(t testing.TB) []etfVector {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "vectors.txt"))
	if err != nil {
		t.Fatalf("open vectors: %v", err)
	}
	defer f.Close()
	var vs []etfVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			t.Fatalf("bad vectors.txt line %q", sc.Text())
		}
		v := etfVector{name: fields[0]}
		v.op, err = strconv.Atoi(fields[1])
		if err != nil {
			t.Fatal(err)
		}
		if fields[2] != "-" {
			v.hasSeq = true
			if v.seq, err = strconv.ParseInt(fields[2], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		if fields[3] != "-" {
			v.t = fields[3]
		}
		if v.payload, err = os.ReadFile(filepath.Join("testdata", v.name+".etf")); err != nil {
			t.Fatal(err)
		}
		d, err := os.ReadFile(filepath.Join("testdata", v.name+".d.etf"))
		if err != nil {
			t.Fatal(err)
		}
		if v.name != "no_d" {
			v.d = d[1:]
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func TestETFScanFindsEnvelopeOfErlangVectors(t *testing.T) {
	for _, v := range loadETFVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			orig := bytes.Clone(v.payload)
			var f Frame
			if err := (ETF{}).Scan(v.payload, &f); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if f.Op != v.op || f.HasSeq != v.hasSeq || f.Seq != v.seq || string(f.T) != v.t || (f.T == nil) != (v.t == "") {
				t.Errorf("got op=%d s=%d/%v t=%q, want op=%d s=%d/%v t=%q", f.Op, f.Seq, f.HasSeq, f.T, v.op, v.seq, v.hasSeq, v.t)
			}
			if !bytes.Equal(f.D, v.d) || (f.D == nil) != (v.d == nil) {
				t.Errorf("D is %d bytes, want the %d bytes of d encoded alone", len(f.D), len(v.d))
			}
			if !bytes.Equal(orig, v.payload) {
				t.Error("Scan modified the payload")
			}
		})
	}
}

func TestETFVectorsCoverEveryAtomEncoding(t *testing.T) {
	// Keys and t in each atom encoding Discord may use; SMALL_ATOM_EXT (115)
	// is never emitted by OTP and is covered by hand-built payloads.
	want := map[byte]string{etfAtom: "message_create_atom", etfSmallAtomUTF8: "message_create_utf8", etfAtomUTF8: "unicode_atoms"}
	for tag, name := range want {
		p, err := os.ReadFile(filepath.Join("testdata", name+".etf"))
		if err != nil {
			t.Fatal(err)
		}
		if p[6] != tag && !bytes.Contains(p, []byte{tag, 2, 88}) {
			t.Errorf("%s does not start its keys with tag %d", name, tag)
		}
	}
}

func TestETFScanDoesNotAllocate(t *testing.T) {
	for _, v := range loadETFVectors(t) {
		var f Frame
		allocs := testing.AllocsPerRun(100, func() {
			if err := (ETF{}).Scan(v.payload, &f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Scan", v.name, allocs)
		}
	}
}

func TestETFControlPayloadsFromErlang(t *testing.T) {
	vs := map[string]etfVector{}
	for _, v := range loadETFVectors(t) {
		vs[v.name] = v
	}
	c := ETF{}
	if d, err := c.HelloInterval(vs["hello"].d); err != nil || d.Milliseconds() != 41250 {
		t.Errorf("HelloInterval = %v, %v; want 41.25s", d, err)
	}
	r, err := c.Ready(vs["ready"].d)
	if err != nil || r != (Ready{SessionID: "9a0b1c2d3e4f", ResumeURL: "wss://gateway-us-east1-b.discord.gg", Guilds: 3}) {
		t.Errorf("Ready = %+v, %v", r, err)
	}
	r, err = c.Ready(vs["ready_no_guilds"].d)
	if err != nil || r != (Ready{SessionID: "s", ResumeURL: "wss://r"}) {
		t.Errorf("Ready (no guilds) = %+v, %v", r, err)
	}
	if ok, err := c.Resumable(vs["invalid_session_true"].d); err != nil || !ok {
		t.Errorf("Resumable(true) = %v, %v", ok, err)
	}
	if ok, err := c.Resumable(vs["invalid_session_false"].d); err != nil || ok {
		t.Errorf("Resumable(false) = %v, %v", ok, err)
	}
}
