// Command h2rpc is the h2rpc command-line tool. Each subcommand lives in its
// own file and registers itself in init, so adding one never touches this
// file:
//
//	h2rpc help              list the subcommands
//	h2rpc h2serve [flags]   serve HTTP/2 over cleartext (h2c) on conn.Server
//	h2rpc help NAME         show one subcommand's flags
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

// errUsage reports a command line that could not be parsed; main exits with
// status 2 for it, as the flag package does.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // -h printed the flags, as asked
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "h2rpc:", err)
		os.Exit(1)
	}
}

// dispatch runs the subcommand named by args[0].
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printHelp(stderr)
		return errUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			printHelp(stdout)
			return nil
		}
		cmd, ok := commands[rest[0]]
		if !ok {
			fmt.Fprintf(stderr, "h2rpc: unknown subcommand %q\n", rest[0])
			return errUsage
		}
		// Every subcommand parses its flags with a FlagSet that prints its
		// defaults for -h and returns flag.ErrHelp.
		err := cmd.run(ctx, []string{"-h"}, stdout, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "h2rpc: unknown subcommand %q\n\n", name)
		printHelp(stderr)
		return errUsage
	}
	if err := cmd.run(ctx, rest, stdout, stderr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
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
