// Command h2rpc is the h2rpc command-line tool:
//
//	h2rpc demo [flags]      run the Learning Messenger example, server and client in one process
//	h2rpc serve [flags]     serve the Learning Messenger example to any gRPC client (h2c, TLS, mutual TLS)
//	h2rpc h2serve [flags]   serve HTTP/2 (h2c, or TLS with ALPN h2): a target for h2spec and curl
//	h2rpc certs [flags]     make a throwaway CA, server and client certificate for trying TLS
//	h2rpc trace [flags]     record HTTP/2 frames through a proxy, or draw a trace as SVG, HTML or text
//	h2rpc help              list the subcommands
//	h2rpc help NAME         show one subcommand's flags (as does h2rpc NAME -h)
//
// Every subcommand reads its command line the same way. Help that is asked
// for (h2rpc help, h2rpc -h, h2rpc NAME -h) goes to stdout and the exit
// status is 0. A command line that cannot be parsed (no subcommand, an
// unknown one, a bad flag, a stray argument) prints one line saying what is
// wrong, then the usage, on stderr, and the exit status is 2. Any other
// failure prints one line on stderr and the exit status is 1.
//
// Each subcommand lives in its own file and registers itself in init; a new
// one also gets a line above (a test checks that every subcommand has one).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// A command is one subcommand of h2rpc.
type command struct {
	name  string
	usage string // one line for `h2rpc help`
	// run executes the subcommand. ctx is cancelled on SIGINT or SIGTERM;
	// a long-running command treats that as the signal to stop gracefully.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by register calls from init functions, before main runs.
var commands = map[string]command{}

// register adds a subcommand. It is called from init functions only, so a
// duplicate name is a programming error caught the first time the tool runs.
func register(name, usage string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if _, dup := commands[name]; dup || name == "help" {
		panic("h2rpc: subcommand " + name + " registered twice")
	}
	commands[name] = command{name: name, usage: usage, run: run}
}

// errUsage reports a command line that could not be parsed, once its error
// and the usage have been printed; the exit status is 2, as with the flag
// package.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	status := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(status)
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 on success or for help asked for, 2 for a usage error
// (already printed), 1 for any other error, which it prints.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "h2rpc:", err)
	return 1
}

// dispatch runs the subcommand named by args[0].
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, "h2rpc: no subcommand given", printHelp)
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		switch {
		case len(rest) == 0:
			printHelp(stdout)
			return nil
		case len(rest) > 1:
			return usageError(stderr, fmt.Sprintf("h2rpc help: unexpected arguments %q", rest[1:]), printHelp)
		}
		cmd, ok := commands[rest[0]]
		if !ok {
			return usageError(stderr, fmt.Sprintf("h2rpc help: unknown subcommand %q", rest[0]), printHelp)
		}
		// Every subcommand reads its flags with parseFlags, which prints
		// the usage on stdout for -h and returns flag.ErrHelp.
		if err := cmd.run(ctx, []string{"-h"}, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		return usageError(stderr, fmt.Sprintf("h2rpc: unknown subcommand %q", name), printHelp)
	}
	if err := cmd.run(ctx, rest, stdout, stderr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseFlags reads a subcommand's command line, args, with fs, whose Usage
// prints to fs.Output(). Every subcommand calls it, so that all of them
// answer alike: for -h or -help it prints the usage on stdout and returns
// flag.ErrHelp; for a bad flag or an argument that is not a flag (no
// subcommand takes any), it prints one line saying so and the usage on
// stderr and returns an error wrapping errUsage.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard) // the flag package's own message: ours follows
	err := fs.Parse(args)
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		fs.Usage()
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return err
	case err != nil:
		return usageError(stderr, fmt.Sprintf("h2rpc %s: %v", fs.Name(), err), usage)
	case fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("h2rpc %s: unexpected arguments %q", fs.Name(), fs.Args()), usage)
	}
	fs.SetOutput(stderr)
	return nil
}

// usageError prints msg, one line, and the usage on stderr, and returns
// errUsage.
func usageError(stderr io.Writer, msg string, usage func(io.Writer)) error {
	fmt.Fprintln(stderr, msg)
	usage(stderr)
	return errUsage
}

// printHelp lists the registered subcommands in name order.
func printHelp(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: h2rpc <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].usage)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "list the commands, or show one command's flags: h2rpc help NAME")
}
