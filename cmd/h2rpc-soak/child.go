package main

// The server runs in a child process so that the soak can kill it: the
// harness re-executes its own binary with serverEnv set to the address to
// listen on, and main (or the test binary's TestMain) serves instead.
//
// The child's protocol, one line each way. Once listening it prints
// "ready". Then, for each line on its stdin:
//
//	stats  → "stats GOROUTINES FDS RSS", after a GC (see usage)
//	dump   → the stacks of all goroutines on its stderr, then "dumped"
//	drain  → GracefulStop (Stop if it takes longer than drainTimeout),
//	         then "drained graceful" or "drained forced", and exit
//
// End of stdin stops the server and exits; the harness kills it with
// SIGKILL to simulate a crash.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/h2rpc/h2rpc/rpc"
)

// serverEnv, when set, makes this process a soak server listening on its
// value.
const serverEnv = "H2RPC_SOAK_SERVER"

// drainTimeout bounds a GracefulStop; a drain that takes longer is forced
// with Stop, and the harness reports it.
const drainTimeout = 30 * time.Second

// serveChild runs the soak server on addr for a parent harness and returns
// the exit code.
func serveChild(addr string, stdin io.Reader, stdout, stderr io.Writer) int {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "soak server: %v\n", err)
		return 1
	}
	srv := rpc.NewServer()
	srv.RegisterService(&serviceDesc, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	if _, err := fmt.Fprintln(stdout, "ready"); err != nil {
		srv.Stop()
		return 1
	}
	in := bufio.NewScanner(stdin)
	for in.Scan() {
		var answer string
		switch in.Text() {
		case "stats":
			u := measure()
			answer = fmt.Sprintf("stats %d %d %d", u.goroutines, u.fds, u.rss)
		case "dump":
			buf := make([]byte, 8<<20)
			stderr.Write(buf[:runtime.Stack(buf, true)]) //nolint:errcheck // best effort
			answer = "dumped"
		case "drain":
			how := "graceful"
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(drainTimeout):
				how = "forced"
				srv.Stop()
				<-done
			}
			<-served
			fmt.Fprintln(stdout, "drained", how)
			return 0
		default:
			fmt.Fprintf(stderr, "soak server: unknown command %q\n", in.Text())
			srv.Stop()
			return 2
		}
		if _, err := fmt.Fprintln(stdout, answer); err != nil {
			break
		}
	}
	srv.Stop()
	<-served
	return 0
}

// server is the parent's handle on a child server process.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startServer starts a child server listening on addr and waits until it
// is ready.
func startServer(addr string) (*server, error) {
	if _, nested := os.LookupEnv(serverEnv); nested {
		return nil, errors.New("a soak server cannot start another")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for the server: %w", err)
	}
	s := &server{cmd: exec.Command(exe)}
	s.cmd.Env = append(os.Environ(), serverEnv+"="+addr)
	s.cmd.Stderr = os.Stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.out = bufio.NewReader(stdout)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	if _, err := s.reply("ready", 0); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// reply reads the child's next line, which must be word and n fields.
func (s *server) reply(word string, n int) ([]string, error) {
	line, err := s.out.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != n+1 || f[0] != word {
		return nil, fmt.Errorf("soak server: want a %q line, got %q (%v)", word, line, err)
	}
	return f[1:], nil
}

func (s *server) command(cmd, word string, n int) ([]string, error) {
	if _, err := io.WriteString(s.stdin, cmd+"\n"); err != nil {
		return nil, fmt.Errorf("soak server: %w", err)
	}
	return s.reply(word, n)
}

// stats returns the child's usage.
func (s *server) stats() (usage, error) {
	f, err := s.command("stats", "stats", 3)
	if err != nil {
		return usage{}, err
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return usage{}, fmt.Errorf("soak server: %w", err)
		}
	}
	return usage{goroutines: int(v[0]), fds: int(v[1]), rss: v[2]}, nil
}

// dump makes the child print its goroutines' stacks on stderr.
func (s *server) dump() error {
	_, err := s.command("dump", "dumped", 0)
	return err
}

// drain gracefully stops the child and waits for it to exit; forced
// reports that GracefulStop did not finish within drainTimeout.
func (s *server) drain() (forced bool, err error) {
	f, err := s.command("drain", "drained", 1)
	s.stdin.Close()
	werr := s.cmd.Wait()
	if err != nil {
		return false, err
	}
	if werr != nil {
		return false, fmt.Errorf("soak server after drain: %w", werr)
	}
	return f[0] == "forced", nil
}

// kill ends the child with SIGKILL, as a crash would.
func (s *server) kill() {
	s.cmd.Process.Kill() //nolint:errcheck // Wait reports the end
	s.stdin.Close()
	s.cmd.Wait() //nolint:errcheck // killed: the error says so
}

// stop ends the child's stdin, which stops it, and waits for it to exit.
func (s *server) stop() error {
	s.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		return err
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck // Wait reports the end
		<-exited
		return errors.New("soak server did not stop within 10s of its stdin closing; killed")
	}
}
