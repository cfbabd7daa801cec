package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// childEnv names the system whose server a child process runs. The conns
// scenario measures the client side of idle connections on its own, so it
// runs the server in a child: the runner re-executes its own binary with
// childEnv set, and Main (or the package's TestMain) serves instead of
// running the matrix.
const childEnv = "H2BENCH_CHILD_SERVER"

// The child's protocol, one line each way: it prints "addr HOST:PORT" once
// serving; each "mem" line on its stdin is answered by "mem HEAP RSS", its
// memSnapshot; end of stdin (the parent closed it, or died) stops it.

// childSystem returns the system the environment asks this process to serve
// as a child, if any.
func childSystem() (string, bool) { return os.LookupEnv(childEnv) }

// serveChild runs the named system's server for a parent runner until
// stdin ends, and returns the exit code.
func serveChild(name string, stdin io.Reader, stdout, stderr io.Writer) int {
	sys, ok := Lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "bench child: unknown system %q\n", name)
		return 2
	}
	srv, err := sys.Start()
	if err != nil {
		fmt.Fprintf(stderr, "bench child: start %s server: %v\n", name, err)
		return 1
	}
	defer srv.Close()
	if _, err := fmt.Fprintf(stdout, "addr %s\n", srv.Addr()); err != nil {
		return 1
	}
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		if in.Text() != "mem" {
			fmt.Fprintf(stderr, "bench child: unknown command %q\n", in.Text())
			return 2
		}
		var m memSnapshot
		m.read()
		if _, err := fmt.Fprintf(stdout, "mem %d %d\n", m.heap, m.rss); err != nil {
			return 1
		}
	}
	return 0
}

// childServer is a Server running in a child process.
type childServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr lockedBuffer
	addr   string
	once   sync.Once
	err    error
}

// childExitGrace is how long a child has to exit once its stdin is closed
// before it is killed.
const childExitGrace = 10 * time.Second

// startChild starts sys's server in a child process: this program's own
// binary, which must call serveChild when childEnv is set (Main does).
func startChild(sys System) (*childServer, error) {
	if _, nested := childSystem(); nested {
		return nil, errors.New("a child server process cannot start another")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for a child server: %w", err)
	}
	c := &childServer{cmd: exec.Command(exe)}
	c.cmd.Env = append(os.Environ(), childEnv+"="+sys.Name())
	c.cmd.Stderr = &c.stderr
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child server: %w", err)
	}
	line, err := c.reply("addr", 1)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.addr = line[0]
	return c, nil
}

// reply reads the child's next line, which must be word and n fields.
func (c *childServer) reply(word string, n int) ([]string, error) {
	line, err := c.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != n+1 || f[0] != word {
		return nil, fmt.Errorf("child server: want a %q line, got %q (%v); its stderr: %s", word, line, err, c.stderr.String())
	}
	return f[1:], nil
}

func (c *childServer) Addr() string { return c.addr }

// mem asks the child for its memSnapshot.
func (c *childServer) mem() (memSnapshot, error) {
	if _, err := io.WriteString(c.stdin, "mem\n"); err != nil {
		return memSnapshot{}, fmt.Errorf("child server: %w", err)
	}
	f, err := c.reply("mem", 2)
	if err != nil {
		return memSnapshot{}, err
	}
	heap, err1 := strconv.ParseInt(f[0], 10, 64)
	rss, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return memSnapshot{}, fmt.Errorf("child server: %w", err)
	}
	return memSnapshot{heap: heap, rss: rss}, nil
}

// Close ends the child's stdin, which stops its server, and waits for it
// to exit; a child that does not exit in time is killed.
func (c *childServer) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		exited := make(chan error, 1)
		go func() { exited <- c.cmd.Wait() }()
		select {
		case c.err = <-exited:
		case <-time.After(childExitGrace):
			c.cmd.Process.Kill() //nolint:errcheck // Wait reports the end
			<-exited
			c.err = fmt.Errorf("child server did not exit within %v of its stdin closing; killed", childExitGrace)
		}
		if c.err != nil {
			c.err = fmt.Errorf("child server: %w; its stderr: %s", c.err, c.stderr.String())
		}
	})
	return c.err
}

// lockedBuffer is a bytes.Buffer safe for the exec package's copying
// goroutine and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 64<<10 {
		return len(p), nil // keep the start; enough to say what went wrong
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
