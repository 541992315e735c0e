package integration

// `just bench-e2e`: the gateway against the floor, side by side in one run.
//
// The floor is integration/floorpub, a tight pipelined amqp091-go publish-with-confirms
// loop, publishing the very bodies the gateway published (captured at the consumer),
// with the same routing keys and headers, to the same broker and the same consumer
// queue. The gateway's cost per event is its process CPU time (user+sys) over the
// events a consumer received; the floor's is the same for floorpub; RabbitMQ's is its
// beam.smp's CPU time over the same events. Runs of the floor and of the gateway
// alternate (json and etf, zlib-stream), so a machine that gets busier part way
// through weighs on both; the report gives medians and ranges, and ends with one line
// per encoding: `gateway/floor json+zlib: 1.23`.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cordis-gateway/cordis/fakediscord"
)

// captured is one delivery of the gateway, as the floor publishes it again.
type captured struct {
	key   string
	shard int
	body  []byte
}

// e2eSample is one measured run of the gateway or of the floor.
type e2eSample struct {
	events    int
	elapsed   time.Duration
	cpu       time.Duration // the publisher's (gateway or floor)
	rabbitCPU time.Duration // beam.smp's; 0 when it could not be read
}

func (s e2eSample) cpuPerEvent() float64 { return usPerEvent(s.cpu, s.events) }
func (s e2eSample) rabbitPerEvent() float64 {
	if s.rabbitCPU == 0 {
		return 0
	}
	return usPerEvent(s.rabbitCPU, s.events)
}
func (s e2eSample) rate() float64 { return float64(s.events) / s.elapsed.Seconds() }

func usPerEvent(d time.Duration, n int) float64 {
	return float64(d.Nanoseconds()) / 1e3 / float64(n)
}

// TestEndToEndAgainstTheFloor measures and reports; it asserts nothing about speed
// (DESIGN.md §9), only that every event arrived. It runs when CORDIS_BENCH_E2E is set;
// CORDIS_BENCH_RUNS (3) and CORDIS_BENCH_EVENTS (50,000) size it, CORDIS_BENCH_REPORT
// names the Markdown report to write (and the README whose Performance lines follow it).
func TestEndToEndAgainstTheFloor(t *testing.T) {
	if os.Getenv("CORDIS_BENCH_E2E") == "" {
		t.Skip("set CORDIS_BENCH_E2E=1 to measure the gateway against the floor: just bench-e2e")
	}
	requireServices(t)
	skipInImageMode(t, "it reads the gateway's CPU time from /proc/<pid>, which a container's process does not have on the test's host")
	runs := envInt(t, "CORDIS_BENCH_RUNS", 3)
	events := envInt(t, "CORDIS_BENCH_EVENTS", 50000)
	bin := benchBinary(t)
	floor := floorBinary(t)
	beam := beamPID()
	if beam == 0 {
		t.Log("no beam.smp process readable in /proc: RabbitMQ's CPU is not reported")
	}
	load0 := loadAvg()
	began := time.Now()

	encs := []string{"json", "etf"}
	type encRuns struct {
		stack   *e2eStack
		bodies  string // floorpub's input
		ctype   string
		gw, flr []e2eSample
	}
	all := map[string]*encRuns{}
	for _, enc := range encs {
		st := &e2eStack{}
		defer st.close()
		st.setup(t, bin, enc, "zlib-stream")
		// Warm-up, not counted: the gateway reaches its steady state (pools, heap) and
		// the bodies are captured (2,000 events hold one whole cycle of fakediscord's
		// load mix). floorpub warms up on them the same way.
		var caps []captured
		st.run(t, benchWarmUp, 0, &caps)
		path := filepath.Join(t.TempDir(), enc+".bodies")
		writeCaptured(t, path, caps)
		ctype := "application/json"
		if enc == "etf" {
			ctype = "application/x-erlang-binary"
		}
		all[enc] = &encRuns{stack: st, bodies: path, ctype: ctype}
	}
	for r := range runs {
		for _, enc := range encs {
			e := all[enc]
			floorRun := func() {
				s := e.stack.runFloor(t, floor, e.bodies, e.ctype, events, beam)
				e.flr = append(e.flr, s)
				t.Logf("run %d %s floor:   %6.2f us/event, RabbitMQ %6.2f us/event, %8.0f events/s", r+1, enc, s.cpuPerEvent(), s.rabbitPerEvent(), s.rate())
			}
			gwRun := func() {
				s := e.stack.run(t, events, beam, nil)
				e.gw = append(e.gw, s)
				t.Logf("run %d %s gateway: %6.2f us/event, RabbitMQ %6.2f us/event, %8.0f events/s", r+1, enc, s.cpuPerEvent(), s.rabbitPerEvent(), s.rate())
			}
			if r%2 == 0 { // alternate which goes first
				floorRun()
				gwRun()
			} else {
				gwRun()
				floorRun()
			}
		}
	}

	rep := e2eReport{
		when: began.UTC(), took: time.Since(began), runs: runs, events: events,
		load0: load0, load1: loadAvg(), cpuModel: cpuModel(), goVersion: runtime.Version(),
	}
	for _, enc := range encs {
		e := all[enc]
		rep.encs = append(rep.encs, encReport{name: enc + "+zlib", gw: e.gw, floor: e.flr})
	}
	md := rep.markdown()
	fmt.Println(md)
	if path := os.Getenv("CORDIS_BENCH_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
		if readme := os.Getenv("CORDIS_BENCH_README"); readme != "" {
			if err := updateREADME(readme, rep.ratioLines()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// benchWarmUp is how many events warm up the gateway, and then the floor, before they
// are measured.
const benchWarmUp = 10000

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	raw := os.Getenv(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a count >= 1", name, raw)
	}
	return n
}

// run sends n events of fakediscord's load mix through the gateway and waits until the
// consumer has all of them; with caps set it keeps what arrived.
func (st *e2eStack) run(t testing.TB, n, beam int, caps *[]captured) e2eSample {
	t.Helper()
	st.drain()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(n)*5*time.Millisecond)
	defer cancel()
	pid, _ := st.gw.run.pid() // TestEndToEndAgainstTheFloor skips in image mode
	cpu0, rab0 := mustCPU(t, pid), rabbitCPU(beam)
	start := time.Now()
	loadDone := make(chan loadResult, 1)
	go func() {
		rep, err := st.discord.Load(ctx, fakediscord.LoadOptions{Count: n, Shards: st.shards})
		loadDone <- loadResult{rep, err}
	}()
	got := st.receive(t, ctx.Done(), n, caps, func() string { return st.gw.stderrTail() })
	s := e2eSample{events: n, elapsed: time.Since(start), cpu: mustCPU(t, pid) - cpu0}
	if rab0 > 0 {
		s.rabbitCPU = rabbitCPU(beam) - rab0
	}
	r := <-loadDone
	if r.err != nil {
		t.Fatalf("fakediscord load: %v", r.err)
	}
	if r.rep.Sent != int64(n) || got.bytes != r.rep.Bytes {
		t.Fatalf("fakediscord sent %d events (%d bytes), the consumer got %d (%d bytes)", r.rep.Sent, r.rep.Bytes, n, got.bytes)
	}
	return s
}

// runFloor has floorpub publish n of the captured bodies and waits until the consumer
// has all of them.
func (st *e2eStack) runFloor(t testing.TB, bin, bodies, ctype string, n, beam int) e2eSample {
	t.Helper()
	st.drain()
	cmd := exec.Command(bin, "-url", env.amqpURL, "-bodies", bodies, "-count", strconv.Itoa(n), "-content-type", ctype)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start floorpub: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	out := bufio.NewReader(stdout)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(n+benchWarmUp)*5*time.Millisecond)
	defer cancel()
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("floorpub: %q, %v; stderr: %s", line, err, stderr.String())
	}
	st.receive(t, ctx.Done(), benchWarmUp, nil, stderr.String) // its warm-up
	pid := cmd.Process.Pid
	cpu0, rab0 := mustCPU(t, pid), rabbitCPU(beam)
	start := time.Now()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	st.receive(t, ctx.Done(), n, nil, stderr.String)
	s := e2eSample{events: n, elapsed: time.Since(start), cpu: mustCPU(t, pid) - cpu0}
	if rab0 > 0 {
		s.rabbitCPU = rabbitCPU(beam) - rab0
	}
	if line, err := out.ReadString('\n'); err != nil || line != fmt.Sprintf("done %d\n", n) {
		t.Fatalf("floorpub: %q, %v; stderr: %s", line, err, stderr.String())
	}
	_ = stdin.Close()
	return s
}

// drain drops what a previous run left (duplicates, other publishers).
func (st *e2eStack) drain() {
	for {
		select {
		case <-st.in:
		default:
			return
		}
	}
}

type arrived struct{ bytes int64 }

// receive counts this stack's deliveries (shard_id header in its range) until n arrived.
func (st *e2eStack) receive(t testing.TB, timeout <-chan struct{}, n int, caps *[]captured, why func() string) arrived {
	t.Helper()
	var r arrived
	for got := 0; got < n; {
		select {
		case d, ok := <-st.in:
			if !ok {
				t.Fatalf("the consumer's channel closed after %d of %d events", got, n)
			}
			if !st.mine(d) {
				continue
			}
			got++
			r.bytes += int64(len(d.Body))
			if caps != nil {
				id, _ := headerInt(d.Headers["shard_id"])
				*caps = append(*caps, captured{key: d.RoutingKey, shard: id, body: d.Body})
			}
		case <-timeout:
			t.Fatalf("only %d of %d events reached the consumer in time; publisher stderr (last lines):\n%s", got, n, why())
		}
	}
	return r
}

func writeCaptured(t testing.TB, path string, caps []captured) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, c := range caps {
		_ = binary.Write(w, binary.BigEndian, uint16(len(c.key)))
		_, _ = w.WriteString(c.key)
		_ = binary.Write(w, binary.BigEndian, uint32(c.shard))
		_ = binary.Write(w, binary.BigEndian, uint32(len(c.body)))
		_, _ = w.Write(c.body)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// floorBinary builds integration/floorpub next to the gateway's test binaries.
func floorBinary(t testing.TB) string {
	t.Helper()
	path := filepath.Join(filepath.Dir(env.binary), "floorpub")
	if out, err := exec.Command("go", "build", "-o", path, "./floorpub").CombinedOutput(); err != nil {
		t.Fatalf("go build floorpub: %v\n%s", err, out)
	}
	return path
}

func mustCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	d, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// beamPID finds RabbitMQ's Erlang VM (the one beam.smp on this machine), 0 if none is
// readable.
func beamPID() int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range dirs {
		comm, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(comm)) != "beam.smp" {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil {
			if _, err := procCPU(pid); err == nil {
				return pid
			}
		}
	}
	return 0
}

func rabbitCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, err := procCPU(pid)
	if err != nil {
		return 0
	}
	return d
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// e2eReport is what PERFORMANCE.md says.
type e2eReport struct {
	when         time.Time
	took         time.Duration
	runs, events int
	load0, load1 string
	cpuModel     string
	goVersion    string
	encs         []encReport
}

type encReport struct {
	name      string
	gw, floor []e2eSample
}

// ratios are gateway/floor CPU per event, one per interleaved pair of runs.
func (e encReport) ratios() []float64 {
	var r []float64
	for i := range min(len(e.gw), len(e.floor)) {
		r = append(r, e.gw[i].cpuPerEvent()/e.floor[i].cpuPerEvent())
	}
	return r
}

// stat is the median and range of xs.
type stat struct{ med, lo, hi float64 }

func statOf(xs []float64) stat {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return stat{}
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, lo: s[0], hi: s[len(s)-1]}
}

func (s stat) format(prec int) string {
	return fmt.Sprintf("%.*f (%.*f-%.*f)", prec, s.med, prec, s.lo, prec, s.hi)
}

func samplesStat(ss []e2eSample, f func(e2eSample) float64) stat {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return statOf(xs)
}

func (r e2eReport) ratioLines() []string {
	var lines []string
	for _, e := range r.encs {
		lines = append(lines, fmt.Sprintf("gateway/floor %s: %.2f", e.name, statOf(e.ratios()).med))
	}
	return lines
}

func (r e2eReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Performance: the gateway against the floor\n\n")
	fmt.Fprintf(&b, "Generated by `just bench-e2e` (integration/floor_bench_test.go) on %s; do not edit by hand.\n\n", r.when.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "What one AMQP publish with confirms costs is the floor of what the gateway must do for each event. ")
	fmt.Fprintf(&b, "The **floor** is `integration/floorpub`: a tight, pipelined amqp091-go publish-with-confirms loop (1,024 unconfirmed at most, the gateway's window) ")
	fmt.Fprintf(&b, "publishing the very bodies the gateway published, with the same routing keys, headers and broker, to the same consumer. ")
	fmt.Fprintf(&b, "The **gateway** reads them from fakediscord (its load mix: MESSAGE_CREATE, PRESENCE_UPDATE, ..., a ~60 KB GUILD_CREATE every 500; 4 shards, zlib-stream), ")
	fmt.Fprintf(&b, "inflates, scans and publishes them with confirms. CPU per event is the process's CPU time (user+sys, /proc) over the events a consumer received; ")
	fmt.Fprintf(&b, "RabbitMQ's is its beam.smp's over the same events.\n\n")
	fmt.Fprintf(&b, "%d interleaved runs of %d events per encoding (floor and gateway alternating), median (min-max). ", r.runs, r.events)
	fmt.Fprintf(&b, "Machine: %s, %d cores shared with other work (load average %s before, %s after; the whole run took %v), %s.\n\n",
		r.cpuModel, runtime.NumCPU(), r.load0, r.load1, r.took.Round(time.Second), r.goVersion)
	b.WriteString("| encoding | publisher | CPU us/event | RabbitMQ CPU us/event | events/s |\n|---|---|---|---|---|\n")
	for _, e := range r.encs {
		for _, side := range []struct {
			name string
			ss   []e2eSample
		}{{"floor", e.floor}, {"gateway", e.gw}} {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", e.name, side.name,
				samplesStat(side.ss, e2eSample.cpuPerEvent).format(2),
				samplesStat(side.ss, e2eSample.rabbitPerEvent).format(2),
				samplesStat(side.ss, e2eSample.rate).format(0))
		}
		fmt.Fprintf(&b, "| %s | **gateway/floor** | **%s** | | |\n", e.name, statOf(e.ratios()).format(2))
	}
	b.WriteString("\nRegenerate with `just bench-e2e` (it rewrites this file and the ratio lines of README.md's Performance section, which `TestREADMEPerformanceMatchesTheReport` checks).\n\n```\n")
	for _, l := range r.ratioLines() {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}

// ratioLine matches the summary lines of the report and of the README.
// (the README's are indented, inside a list item).
var ratioLine = regexp.MustCompile(`(?m)^([ \t]*)(gateway/floor (?:json|etf)\+zlib: [0-9.]+)$`)

// ratioLinesOf returns the summary lines in text, unindented.
func ratioLinesOf(text string) []string {
	var lines []string
	for _, m := range ratioLine.FindAllStringSubmatch(text, -1) {
		lines = append(lines, m[2])
	}
	return lines
}

// updateREADME replaces the README's ratio lines (inside its Performance section's code
// block) with lines.
func updateREADME(path string, lines []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := 0
	out := ratioLine.ReplaceAllStringFunc(string(b), func(old string) string {
		if i >= len(lines) {
			return old
		}
		i++
		return ratioLine.FindStringSubmatch(old)[1] + lines[i-1]
	})
	if i != len(lines) {
		return fmt.Errorf("%s has %d gateway/floor lines, want %d", path, i, len(lines))
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// The README's Performance section quotes the report's summary lines: regenerating the
// report updates them, and this keeps a hand edit of either from drifting.
func TestREADMEPerformanceMatchesTheReport(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	report, err := os.ReadFile("../PERFORMANCE.md")
	if err != nil {
		t.Fatal(err)
	}
	want := ratioLinesOf(string(report))
	got := ratioLinesOf(string(readme))
	if len(want) != 2 {
		t.Fatalf("PERFORMANCE.md has %d gateway/floor lines, want json and etf: %q", len(want), want)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("README.md's Performance section says %q, PERFORMANCE.md says %q: run just bench-e2e", got, want)
	}
	if !strings.Contains(string(readme), "(PERFORMANCE.md)") {
		t.Fatal("README.md does not link PERFORMANCE.md")
	}
}
